package dynamo

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// failFirst delivers every request, but answers the first one to the SDK as
// a 500: the server saw it, and the SDK sends it again (attempt=2).
type failFirst struct{ n atomic.Int32 }

func (f *failFirst) RoundTrip(r *http.Request) (*http.Response, error) {
	res, err := http.DefaultTransport.RoundTrip(r)
	if err != nil || f.n.Add(1) > 1 {
		return res, err
	}
	res.Body.Close()
	return &http.Response{StatusCode: http.StatusInternalServerError, Header: http.Header{"Content-Type": {"application/x-amz-json-1.0"}},
		Body: io.NopCloser(strings.NewReader(`{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"injected"}`)), Request: r}, nil
}

// A call the SDK retried is one call: the counts are operations, not attempts.
func TestCallsCountOperationsNotRetries(t *testing.T) {
	s, _ := startServer(t)
	tr := &failFirst{}
	c := dynamodb.New(dynamodb.Options{Region: defaultRegion(), BaseEndpoint: aws.String(s.URL()),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDCALLER", "local", ""),
		HTTPClient:  &http.Client{Transport: tr}})
	if _, err := c.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String("codes"),
		Key: map[string]types.AttributeValue{"token": &types.AttributeValueMemberS{Value: "t"}}}); err != nil {
		t.Fatalf("GetItem: %v", err)
	}
	if got := tr.n.Load(); got != 2 {
		t.Fatalf("the SDK sent %d attempts, want 2 (the test's premise)", got)
	}
	var n int64
	for _, cc := range s.Calls() {
		if cc.Principal == "AKIDCALLER" {
			if cc.Action != "GetItem" || cc.Table != "codes" {
				t.Errorf("unexpected call %+v", cc)
			}
			n += cc.N
		}
	}
	if n != 1 {
		t.Fatalf("GetItem counted %d times, want 1 (the retry is the same call)", n)
	}
}
