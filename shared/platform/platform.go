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

// Preconnect opens a connection to endpoint through hc in the background: an
// unsigned GET of the endpoint's root, which DynamoDB answers with its health
// check and no API call. A cold start's first API call then finds the TCP
// (and, in the cloud, TLS) handshake done or under way instead of starting it
// on the request's critical path; the rest of the cold start (secrets,
// runtime API) overlaps it.
func Preconnect(hc interface {
	Do(*http.Request) (*http.Response, error)
}, endpoint string) {
	req, err := http.NewRequest(http.MethodGet, strings.TrimSuffix(endpoint, "/")+"/", nil)
	if err != nil {
		return
	}
	go func() {
		resp, err := hc.Do(req)
		if err != nil {
			return
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		_ = resp.Body.Close()
	}()
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

// AWSConfig is the SDK configuration of a Lambda function, built from the
// environment Lambda gives it, as the SDK's default chain resolves it there:
// region from AWS_REGION (or AWS_DEFAULT_REGION), the execution role's
// credentials from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
// AWS_SESSION_TOKEN, endpoints from AWS_ENDPOINT_URL and
// AWS_ENDPOINT_URL_<SERVICE> (unless AWS_IGNORE_CONFIGURED_ENDPOINT_URLS is
// true). It does not use config.LoadDefaultConfig: that package links the
// SSO, STS, sign-in and IMDS clients and their endpoint and schema tables,
// whose package initialisation alone costs a cold start ~1 ms, for credential
// sources a Lambda function never has (shared files, SSO, web identity,
// IMDS). It adds the call-counting middleware.
func AWSConfig(ctx context.Context) (aws.Config, error) {
	env := envSource{}
	region := os.Getenv("AWS_REGION")
	if region == "" {
		region = os.Getenv("AWS_DEFAULT_REGION")
	}
	if region == "" {
		return aws.Config{}, fmt.Errorf("AWS_REGION is not set")
	}
	creds := aws.Credentials{
		AccessKeyID: os.Getenv("AWS_ACCESS_KEY_ID"), SecretAccessKey: os.Getenv("AWS_SECRET_ACCESS_KEY"),
		SessionToken: os.Getenv("AWS_SESSION_TOKEN"), Source: "EnvConfigCredentials", AccountID: os.Getenv("AWS_ACCOUNT_ID"),
	}
	if creds.AccessKeyID == "" || creds.SecretAccessKey == "" {
		return aws.Config{}, fmt.Errorf("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set (Lambda sets them from the execution role)")
	}
	cfg := aws.Config{
		Region: region,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return creds, nil
		}),
		ConfigSources: []any{env},
	}
	if v := os.Getenv("AWS_ENDPOINT_URL"); v != "" && !env.ignoreEndpoints() {
		cfg.BaseEndpoint = aws.String(v)
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

// envSource is the environment as an SDK configuration source: the service
// clients ask it for AWS_ENDPOINT_URL_<SERVICE> (the service's SDK id in
// capitals, spaces as underscores, e.g. AWS_ENDPOINT_URL_SECRETS_MANAGER)
// and whether configured endpoints are to be ignored.
type envSource struct{}

func (envSource) ignoreEndpoints() bool {
	v, _ := strconv.ParseBool(os.Getenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"))
	return v
}

// GetServiceBaseEndpoint implements the SDK's service endpoint source.
func (e envSource) GetServiceBaseEndpoint(_ context.Context, sdkID string) (string, bool, error) {
	if v := os.Getenv("AWS_ENDPOINT_URL_" + strings.ReplaceAll(strings.ToUpper(sdkID), " ", "_")); v != "" {
		return v, true, nil
	}
	return "", false, nil
}

// GetIgnoreConfiguredEndpoints implements the SDK's switch for configured endpoints.
func (e envSource) GetIgnoreConfiguredEndpoints(context.Context) (bool, bool, error) {
	v := os.Getenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")
	if v == "" {
		return false, false, nil
	}
	b, err := strconv.ParseBool(v)
	return b, err == nil, err
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
