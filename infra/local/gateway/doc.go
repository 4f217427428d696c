// Package gateway emulates an Amazon API Gateway HTTP API with Lambda proxy
// integrations (payload format version 2.0) for the local stack: it selects
// a route like API Gateway does, builds the events.APIGatewayV2HTTPRequest
// the function receives, invokes it through an Invoker, and turns the
// function's result into the HTTP response.
package gateway
