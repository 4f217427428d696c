package platform

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
)

// SES v2's SDK id is "SESv2": its variable is AWS_ENDPOINT_URL_SESV2 (the
// local stack points it at the outbox sandbox), and it is not SES v1's
// AWS_ENDPOINT_URL_SES.
func TestSESv2EndpointVariable(t *testing.T) {
	lambdaEnv(t)
	t.Setenv("AWS_ENDPOINT_URL_SES", "http://127.0.0.1:1111")
	t.Setenv("AWS_ENDPOINT_URL_SESV2", "")
	cfg, err := AWSConfig(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := sesv2.NewFromConfig(cfg).Options().BaseEndpoint; got != nil {
		t.Fatalf("SES v2 endpoint %q from AWS_ENDPOINT_URL_SES, want the default", *got)
	}
	t.Setenv("AWS_ENDPOINT_URL_SESV2", "http://127.0.0.1:8086")
	cfg, _ = AWSConfig(context.Background())
	if got := aws.ToString(sesv2.NewFromConfig(cfg).Options().BaseEndpoint); got != "http://127.0.0.1:8086" {
		t.Fatalf("SES v2 endpoint %q, want AWS_ENDPOINT_URL_SESV2", got)
	}
	t.Setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true")
	cfg, _ = AWSConfig(context.Background())
	if got := sesv2.NewFromConfig(cfg).Options().BaseEndpoint; got != nil {
		t.Fatalf("SES v2 endpoint %q with AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", *got)
	}
}
