package platform

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

func TestLoggerAddsRequestID(t *testing.T) {
	var buf bytes.Buffer
	log := newLogger(&buf, slog.LevelInfo).With("function", "F")
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "req-123"})
	log.InfoContext(ctx, "order paid", "order_id", "EP1")
	log.Info("no context")

	dec := json.NewDecoder(&buf)
	var first, second map[string]any
	if err := dec.Decode(&first); err != nil {
		t.Fatal(err)
	}
	if err := dec.Decode(&second); err != nil {
		t.Fatal(err)
	}
	if first["request_id"] != "req-123" || first["order_id"] != "EP1" || first["function"] != "F" {
		t.Fatalf("record = %v, want request_id, order_id and function", first)
	}
	if _, ok := second["request_id"]; ok || second["function"] != "F" {
		t.Fatalf("record without a Lambda context = %v", second)
	}
}

func lambdaEnv(t *testing.T) {
	t.Helper()
	for k, v := range map[string]string{"AWS_REGION": "ap-southeast-1", "AWS_DEFAULT_REGION": "", "AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "SECRET",
		"AWS_SESSION_TOKEN": "TOKEN", "AWS_ENDPOINT_URL": "", "AWS_ENDPOINT_URL_DYNAMODB": "", "AWS_ENDPOINT_URL_SQS": "", "AWS_ENDPOINT_URL_SECRETS_MANAGER": "",
		"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": ""} {
		t.Setenv(k, v)
	}
}

// The configuration comes from the variables Lambda sets: region, the role's
// credentials, and the standard endpoint variables the local stack uses.
func TestAWSConfigFromTheLambdaEnvironment(t *testing.T) {
	lambdaEnv(t)
	t.Setenv("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:4566")
	t.Setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", "http://127.0.0.1:4567")
	ctx := context.Background()
	cfg, err := AWSConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Region != "ap-southeast-1" {
		t.Fatalf("region %q", cfg.Region)
	}
	c, err := cfg.Credentials.Retrieve(ctx)
	if err != nil || c.AccessKeyID != "AKID" || c.SecretAccessKey != "SECRET" || c.SessionToken != "TOKEN" {
		t.Fatalf("credentials %+v, %v", c, err)
	}
	if got := aws.ToString(dynamodb.NewFromConfig(cfg).Options().BaseEndpoint); got != "http://127.0.0.1:4566" {
		t.Fatalf("DynamoDB endpoint %q", got)
	}
	if got := aws.ToString(secretsmanager.NewFromConfig(cfg).Options().BaseEndpoint); got != "http://127.0.0.1:4567" {
		t.Fatalf("Secrets Manager endpoint %q", got)
	}
	if got := sqs.NewFromConfig(cfg).Options().BaseEndpoint; got != nil {
		t.Fatalf("SQS endpoint %q, want the default", *got)
	}

	// AWS_ENDPOINT_URL serves every service without its own variable.
	t.Setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9000")
	cfg, _ = AWSConfig(ctx)
	if got := aws.ToString(sqs.NewFromConfig(cfg).Options().BaseEndpoint); got != "http://127.0.0.1:9000" {
		t.Fatalf("SQS endpoint %q, want AWS_ENDPOINT_URL", got)
	}
	if got := aws.ToString(dynamodb.NewFromConfig(cfg).Options().BaseEndpoint); got != "http://127.0.0.1:4566" {
		t.Fatalf("DynamoDB endpoint %q, want its own variable", got)
	}
	// ... and none of them when configured endpoints are switched off.
	t.Setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true")
	cfg, _ = AWSConfig(ctx)
	if got := dynamodb.NewFromConfig(cfg).Options().BaseEndpoint; got != nil {
		t.Fatalf("DynamoDB endpoint %q with AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", *got)
	}
	if got := sqs.NewFromConfig(cfg).Options().BaseEndpoint; got != nil {
		t.Fatalf("SQS endpoint %q with AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", *got)
	}
}

func TestAWSConfigNeedsRegionAndCredentials(t *testing.T) {
	lambdaEnv(t)
	t.Setenv("AWS_REGION", "")
	if _, err := AWSConfig(context.Background()); err == nil || !strings.Contains(err.Error(), "AWS_REGION") {
		t.Fatalf("no region: %v", err)
	}
	t.Setenv("AWS_DEFAULT_REGION", "us-east-1")
	if cfg, err := AWSConfig(context.Background()); err != nil || cfg.Region != "us-east-1" {
		t.Fatalf("AWS_DEFAULT_REGION: %v %v", cfg.Region, err)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	if _, err := AWSConfig(context.Background()); err == nil || !strings.Contains(err.Error(), "AWS_ACCESS_KEY_ID") {
		t.Fatalf("no credentials: %v", err)
	}
}

// Provider HTTP calls and DynamoDB writes are counted for the metrics line.
func TestCountingTransportAndWrites(t *testing.T) {
	TakeAWSCalls()
	rt := CountingTransport("Provider", roundTripFunc(func(*http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 204, Body: http.NoBody}, nil
	}))
	for i := 0; i < 2; i++ {
		req, _ := http.NewRequest(http.MethodGet, "http://example.invalid/", nil)
		if _, err := rt.RoundTrip(req); err != nil {
			t.Fatal(err)
		}
	}
	if got := TakeAWSCalls(); got["Provider"] != 2 {
		t.Fatalf("calls %v", got)
	}
	if got := TakeAWSCalls(); len(got) != 0 {
		t.Fatalf("calls not reset: %v", got)
	}
	if !dynamoDBWrites["PutItem"] || !dynamoDBWrites["TransactWriteItems"] || dynamoDBWrites["GetItem"] || dynamoDBWrites["Query"] {
		t.Fatal("write operations misclassified")
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// Preconnect leaves an open connection in the client's pool: the request
// that follows uses it instead of dialling.
func TestPreconnectOpensTheConnectionAhead(t *testing.T) {
	var mu sync.Mutex
	conns, roots := 0, 0
	got := make(chan struct{}, 1)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" && r.Method == http.MethodGet && r.Header.Get("Authorization") == "" {
			mu.Lock()
			roots++
			mu.Unlock()
			select {
			case got <- struct{}{}:
			default:
			}
		}
		w.Write([]byte("healthy"))
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			mu.Lock()
			conns++
			mu.Unlock()
		}
	}
	srv.Start()
	defer srv.Close()
	hc := &http.Client{Transport: &http.Transport{}}
	Preconnect(hc, srv.URL)
	select {
	case <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("no unsigned GET / from Preconnect")
	}
	// The pre-connection's response is read and its connection back in the
	// pool once the client can reuse it; poll for that with a deadline.
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := hc.Post(srv.URL+"/api", "application/json", strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		mu.Lock()
		n := conns
		mu.Unlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d connections: the request did not reuse the pre-connection", n)
		}
		hc.CloseIdleConnections()
		mu.Lock()
		conns = 0
		mu.Unlock()
		Preconnect(hc, srv.URL)
		<-got
	}
	mu.Lock()
	defer mu.Unlock()
	if roots < 1 {
		t.Fatalf("roots = %d", roots)
	}
}
