// Command hello is the baseline of `make bench`: the smallest aws-lambda-go
// function behind an HttpApi route, answering 200 "ok". The benchmark builds it
// exactly like the product's functions and reports every figure also as a ratio
// to this one.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
)

func handle(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	return events.APIGatewayV2HTTPResponse{
		StatusCode: 200,
		Headers:    map[string]string{"Content-Type": "text/plain; charset=utf-8"},
		Body:       "ok",
	}, nil
}

func main() {
	lambda.Start(handle)
}
