// Package platform is what every function needs at cold start: configuration from
// the environment, a structured JSON logger, the AWS SDK configuration (with a
// request-counting middleware that feeds per-invocation metrics), and the Lambda
// entry point wrapper that writes one CloudWatch EMF metrics line per invocation.
package platform

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/smithy-go/middleware"
)

// Env returns a required environment variable or exits the cold start with a clear message.
func Env(name string) string {
	v := os.Getenv(name)
	if v == "" {
		fmt.Fprintf(os.Stderr, "missing required environment variable %s\n", name)
		os.Exit(1)
	}
	return v
}

// EnvInt64 returns an integer environment variable, or def when unset.
func EnvInt64(name string, def int64) int64 {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		fmt.Fprintf(os.Stderr, "environment variable %s: %v\n", name, err)
		os.Exit(1)
	}
	return n
}

// EnvOr returns an environment variable or def.
func EnvOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// Logger returns a JSON slog logger at LOG_LEVEL (debug|info|warn|error), tagged
// with the function name.
func Logger() *slog.Logger {
	var lvl slog.Level
	switch strings.ToLower(os.Getenv("LOG_LEVEL")) {
	case "debug":
		lvl = slog.LevelDebug
	case "warn":
		lvl = slog.LevelWarn
	case "error":
		lvl = slog.LevelError
	}
	return newLogger(os.Stdout, lvl).With("function", os.Getenv("AWS_LAMBDA_FUNCTION_NAME"))
}

func newLogger(w io.Writer, lvl slog.Level) *slog.Logger {
	return slog.New(requestIDHandler{slog.NewJSONHandler(w, &slog.HandlerOptions{Level: lvl})})
}

// requestIDHandler adds the invocation's Lambda request id ("request_id") to every
// record logged with a context, so one request's lines can be found together.
type requestIDHandler struct{ slog.Handler }

func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if lc, ok := lambdacontext.FromContext(ctx); ok && lc.AwsRequestID != "" {
		r.AddAttrs(slog.String("request_id", lc.AwsRequestID))
	}
	return h.Handler.Handle(ctx, r)
}

func (h requestIDHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(attrs)}
}

func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(name)}
}

// Calls counts AWS API calls made by this process, by service ("DynamoDB", "SQS", ...).
type Calls struct {
	m atomic.Pointer[map[string]*atomic.Int64]
}

var awsCalls Calls

func (c *Calls) counter(service string) *atomic.Int64 {
	for {
		cur := c.m.Load()
		if cur != nil {
			if n, ok := (*cur)[service]; ok {
				return n
			}
		}
		next := map[string]*atomic.Int64{}
		if cur != nil {
			for k, v := range *cur {
				next[k] = v
			}
		}
		next[service] = new(atomic.Int64)
		if c.m.CompareAndSwap(cur, &next) {
			return next[service]
		}
	}
}

// CountCall counts one call to service for the invocation's metrics line
// ("<service>Calls"): AWS calls are counted by the SDK middleware of
// AWSConfig, provider HTTP calls by CountingTransport.
func CountCall(service string) { awsCalls.counter(service).Add(1) }

// dynamoDBWrites are the DynamoDB operations that write, counted again as
// "DynamoDBWrite" (the order creation goal is one write on its path).
var dynamoDBWrites = map[string]bool{
	"PutItem": true, "UpdateItem": true, "DeleteItem": true, "BatchWriteItem": true,
	"TransactWriteItems": true, "ExecuteStatement": true, "BatchExecuteStatement": true, "ExecuteTransaction": true,
}

// CountingTransport counts every request sent through next as a call to
// service (e.g. "Provider": WeChat Pay, Alipay, WeChat OAuth).
func CountingTransport(service string, next http.RoundTripper) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	return countingTransport{service, next}
}

type countingTransport struct {
	service string
	next    http.RoundTripper
}

func (t countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	CountCall(t.service)
	return t.next.RoundTrip(r)
}

// TakeAWSCalls returns the per-service call counts since the last call and resets them.
func TakeAWSCalls() map[string]int64 {
	out := map[string]int64{}
	if cur := awsCalls.m.Load(); cur != nil {
		for k, v := range *cur {
			if n := v.Swap(0); n > 0 {
				out[k] = n
			}
		}
	}
	return out
}

// AWSConfig loads the default SDK configuration (region, credentials and
// AWS_ENDPOINT_URL_* from the environment, exactly as in the cloud) and adds the
// call-counting middleware.
func AWSConfig(ctx context.Context) (aws.Config, error) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return cfg, err
	}
	cfg.APIOptions = append(cfg.APIOptions, func(st *middleware.Stack) error {
		return st.Initialize.Add(middleware.InitializeMiddlewareFunc("estatepay.CountCalls",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				svc := middleware.GetServiceID(ctx)
				CountCall(svc)
				if svc == "DynamoDB" && dynamoDBWrites[middleware.GetOperationName(ctx)] {
					CountCall("DynamoDBWrite")
				}
				return next.HandleInitialize(ctx, in)
			}), middleware.After)
	})
	return cfg, nil
}

// MustAWSConfig is AWSConfig for a cold start: a failure ends the process
// with a clear message (Lambda reports the init error).
func MustAWSConfig(ctx context.Context) aws.Config {
	cfg, err := AWSConfig(ctx)
	if err != nil {
		Fail("AWS configuration", err)
	}
	return cfg
}

// Fail ends a cold start that cannot go on (missing or unusable
// configuration) with a clear message; Lambda reports the init error.
func Fail(what string, err error) {
	fmt.Fprintf(os.Stderr, "init: %s: %v\n", what, err)
	os.Exit(1)
}
