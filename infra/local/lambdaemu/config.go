package lambdaemu

import (
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Defaults applied by NewPool to zero-valued FunctionConfig fields.
const (
	DefaultTimeout      = 3 * time.Second  // Lambda's default function timeout
	DefaultInitTimeout  = 10 * time.Second // Lambda's limit for the init phase
	DefaultMemoryMB     = 128
	DefaultMaxInstances = 10
	DefaultRegion       = "ap-southeast-1"
	DefaultAccountID    = "123456789012"

	// MaxPayloadBytes is Lambda's limit for synchronous request and response
	// payloads (6 MB).
	MaxPayloadBytes = 6 * 1024 * 1024
)

// FunctionConfig describes one function and how to run it.
type FunctionConfig struct {
	Name   string // function name, e.g. "pay-api"
	Binary string // path to the bootstrap executable
	Dir    string // working directory and LAMBDA_TASK_ROOT; default: Binary's directory
	// Env holds KEY=VALUE pairs from the template. The Lambda runtime
	// variables are added by the pool; a variable set here wins over a
	// pool default (for example AWS_REGION or TZ).
	Env          []string
	Timeout      time.Duration // per invocation; default 3s
	InitTimeout  time.Duration // exec until first /next; default 10s
	MemoryMB     int           // reported to the function; default 128
	MaxInstances int           // concurrent instances; 0 => 10
	AccountID    string        // used in the invoked function ARN; default 123456789012
	// Output receives the function's stdout and stderr plus START/END/REPORT
	// lines, each line prefixed with "[Name] ". Writes are whole lines and
	// serialised across all pools. Nil discards.
	Output io.Writer
}

func (c FunctionConfig) withDefaults() FunctionConfig {
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.InitTimeout <= 0 {
		c.InitTimeout = DefaultInitTimeout
	}
	if c.MemoryMB <= 0 {
		c.MemoryMB = DefaultMemoryMB
	}
	if c.MaxInstances <= 0 {
		c.MaxInstances = DefaultMaxInstances
	}
	if c.AccountID == "" {
		c.AccountID = DefaultAccountID
	}
	if c.Dir == "" && c.Binary != "" {
		c.Dir = filepath.Dir(c.Binary)
	}
	if c.Output == nil {
		c.Output = io.Discard
	}
	return c
}

// region returns the region the function sees: AWS_REGION or
// AWS_DEFAULT_REGION from Env, else DefaultRegion.
func (c FunctionConfig) region() string {
	if v, ok := lookupEnv(c.Env, "AWS_REGION"); ok && v != "" {
		return v
	}
	if v, ok := lookupEnv(c.Env, "AWS_DEFAULT_REGION"); ok && v != "" {
		return v
	}
	return DefaultRegion
}

func (c FunctionConfig) functionARN() string {
	return "arn:aws:lambda:" + c.region() + ":" + c.AccountID + ":function:" + c.Name
}

// processEnv builds the complete environment of one instance process.
func (c FunctionConfig) processEnv(runtimeAPI, logStream string) []string {
	region := c.region()
	taskRoot, err := filepath.Abs(c.Dir)
	if err != nil {
		taskRoot = c.Dir
	}
	// Variables the function cannot override (Lambda reserves them).
	reserved := [][2]string{
		{"AWS_LAMBDA_RUNTIME_API", runtimeAPI},
		{"AWS_LAMBDA_FUNCTION_NAME", c.Name},
		{"AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"},
		{"AWS_LAMBDA_FUNCTION_MEMORY_SIZE", strconv.Itoa(c.MemoryMB)},
		{"AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/" + c.Name},
		{"AWS_LAMBDA_LOG_STREAM_NAME", logStream},
		{"AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand"},
		{"AWS_EXECUTION_ENV", "AWS_Lambda_provided.al2023"},
		{"LAMBDA_TASK_ROOT", taskRoot},
		{"_HANDLER", "bootstrap"},
	}
	// Variables Lambda provides but the template may set.
	defaults := [][2]string{
		{"AWS_REGION", region},
		{"AWS_DEFAULT_REGION", region},
		{"TZ", ":UTC"},
		{"LANG", "en_US.UTF-8"},
		{"PATH", "/usr/local/bin:/usr/bin/:/bin:/opt/bin"},
		// Lambda always hands the function role credentials; locally the
		// embedded services accept any, so provide placeholders.
		{"AWS_ACCESS_KEY_ID", "local"},
		{"AWS_SECRET_ACCESS_KEY", "local"},
		{"AWS_SESSION_TOKEN", "local"},
	}
	isReserved := make(map[string]bool, len(reserved))
	for _, kv := range reserved {
		isReserved[kv[0]] = true
	}
	env := make([]string, 0, len(c.Env)+len(reserved)+len(defaults))
	for _, kv := range c.Env {
		k, _, _ := strings.Cut(kv, "=")
		if !isReserved[k] {
			env = append(env, kv)
		}
	}
	for _, kv := range defaults {
		if _, ok := lookupEnv(c.Env, kv[0]); !ok {
			env = append(env, kv[0]+"="+kv[1])
		}
	}
	for _, kv := range reserved {
		env = append(env, kv[0]+"="+kv[1])
	}
	return env
}

// lookupEnv finds the last KEY=VALUE for key in env.
func lookupEnv(env []string, key string) (string, bool) {
	for i := len(env) - 1; i >= 0; i-- {
		k, v, ok := strings.Cut(env[i], "=")
		if ok && k == key {
			return v, true
		}
	}
	return "", false
}
