// Package lambdaemu emulates the AWS Lambda execution environment for local
// runs: it starts a function's real `bootstrap` binary (a custom runtime such
// as aws-lambda-go built with -tags lambda.norpc), serves it the Lambda
// Runtime API on a private loopback listener, and keeps a pool of instances
// per function.
//
// Like Lambda, an instance handles one invocation at a time; idle instances
// are reused (warm), a new instance is started (cold) when all are busy and
// the pool is below MaxInstances, and an instance whose process crashed or
// timed out is discarded and replaced on demand.
//
// The function process does not inherit the emulator's environment: it gets
// FunctionConfig.Env plus the variables Lambda itself provides.
package lambdaemu
