// Command apifn is an HTTP API function for the gateway's end-to-end test.
package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
)

type echo struct {
	RouteKey string            `json:"routeKey"`
	Params   map[string]string `json:"params"`
	Query    map[string]string `json:"query"`
	Cookies  []string          `json:"cookies"`
	Body     []byte            `json:"body"`
}

func handle(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	switch req.RouteKey {
	case "GET /fail":
		return events.APIGatewayV2HTTPResponse{}, errors.New("handler failed")
	case "GET /crash":
		os.Exit(2)
	}
	body := []byte(req.Body)
	if req.IsBase64Encoded {
		var err error
		if body, err = base64.StdEncoding.DecodeString(req.Body); err != nil {
			return events.APIGatewayV2HTTPResponse{}, err
		}
	}
	if req.RouteKey == "POST /size" { // big bodies: answer their size only
		return events.APIGatewayV2HTTPResponse{StatusCode: 200, Body: fmt.Sprintf(`{"bytes":%d}`, len(body))}, nil
	}
	out, _ := json.Marshal(echo{req.RouteKey, req.PathParameters, req.QueryStringParameters, req.Cookies, body})
	return events.APIGatewayV2HTTPResponse{
		StatusCode:      200,
		Headers:         map[string]string{"Content-Type": "application/octet-stream"},
		Cookies:         []string{"seen=1; Path=/"},
		Body:            base64.StdEncoding.EncodeToString(out),
		IsBase64Encoded: true,
	}, nil
}

func main() { lambda.Start(handle) }
