package stacktest

import (
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/estatepay/estatepay/shared/store"
	"github.com/estatepay/estatepay/shared/web"
)

// SampleEvent reads events/<name> (the sample events the tests share).
func SampleEvent(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(Root(t), "events", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// SampleRequest decodes events/<name> as an API Gateway HTTP API (payload 2.0) event.
func SampleRequest(t testing.TB, name string) web.Request {
	t.Helper()
	var req web.Request
	if err := json.Unmarshal(SampleEvent(t, name), &req); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return req
}

// DownStore is a store whose DynamoDB endpoint refuses connections (one attempt,
// no retries), for testing how handlers answer a failed downstream.
func DownStore(t testing.TB) *store.Store {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	db := dynamodb.New(dynamodb.Options{Region: "ap-southeast-1", BaseEndpoint: aws.String("http://" + addr),
		Credentials: credentials.NewStaticCredentialsProvider("x", "x", ""), RetryMaxAttempts: 1})
	return &store.Store{DB: db, Directory: "DirectoryTable", Orders: "OrdersTable"}
}
