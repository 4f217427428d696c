package ses_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/smithy-go"

	"github.com/estatepay/estatepay/infra/sandbox/outbox"
	"github.com/estatepay/estatepay/shared/notify"
	"github.com/estatepay/estatepay/shared/notify/ses"
	"github.com/estatepay/estatepay/shared/platform"
)

// lambdaEnv is the environment a function gets locally: the role's
// credentials, the region, and the SDK's standard endpoint variable for SES v2.
func lambdaEnv(t *testing.T, endpoint string) aws.Config {
	t.Helper()
	for k, v := range map[string]string{"AWS_REGION": "ap-southeast-1", "AWS_ACCESS_KEY_ID": "LOCALAdminFunction", "AWS_SECRET_ACCESS_KEY": "local",
		"AWS_SESSION_TOKEN": "", "AWS_ENDPOINT_URL": "", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "", "AWS_ENDPOINT_URL_SESV2": endpoint} {
		t.Setenv(k, v)
	}
	cfg, err := platform.AWSConfig(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// The adapter sends through aws-sdk-go-v2's sesv2 client, configured like a
// function's, to the sandbox named by AWS_ENDPOINT_URL_SESV2.
func TestSendThroughTheSandbox(t *testing.T) {
	now := time.Date(2026, 3, 1, 16, 30, 0, 0, time.UTC)
	ob, err := outbox.New(outbox.Config{Email: outbox.EmailConfig{Identities: []string{"estatepay.local"}}, Now: func() time.Time { return now },
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(ob.Handler())
	defer srv.Close()
	awsCfg := lambdaEnv(t, srv.URL)

	s, err := ses.NewFromConfig(awsCfg, ses.Config{From: "小区收款 <noreply@estatepay.local>"})
	if err != nil {
		t.Fatal(err)
	}
	msg := notify.EmailMessage{To: "admin@example.com", Subject: "设置您的登录密码", Text: "请在 24 小时内打开链接设置密码：\nhttps://pay.example.com/admin/set-password?token=abc",
		HTML: `<p>请打开 <a href="https://pay.example.com/admin/set-password?token=abc">链接</a></p>`}
	if err := s.SendEmail(context.Background(), msg); err != nil {
		t.Fatalf("send: %v", err)
	}
	got := ob.Messages()
	if len(got) != 1 {
		t.Fatalf("outbox %+v", got)
	}
	m := got[0]
	if m.Channel != "email" || m.To != "admin@example.com" || m.From != "小区收款 <noreply@estatepay.local>" || m.Subject != msg.Subject ||
		m.Body != msg.Text || m.HTML != msg.HTML || m.SentAt != "2026-03-02T00:30:00+08:00" {
		t.Fatalf("message %+v", m)
	}

	// A sender outside the verified identities is refused as SES refuses it.
	other, _ := ses.NewFromConfig(awsCfg, ses.Config{From: "noreply@elsewhere.example"})
	err = other.SendEmail(context.Background(), msg)
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "MessageRejected" {
		t.Fatalf("unverified sender: %v", err)
	}
	if len(ob.Messages()) != 1 {
		t.Fatal("a refused message was recorded")
	}
}

type fakeAPI struct{ in *sesv2.SendEmailInput }

func (f *fakeAPI) SendEmail(_ context.Context, in *sesv2.SendEmailInput, _ ...func(*sesv2.Options)) (*sesv2.SendEmailOutput, error) {
	f.in = in
	return &sesv2.SendEmailOutput{MessageId: aws.String("m1")}, nil
}

// The request: the configured sender (a non-ASCII display name RFC
// 2047-encoded), one recipient, UTF-8 simple content, HTML only when given.
func TestRequest(t *testing.T) {
	api := &fakeAPI{}
	s, err := ses.New(api, ses.Config{From: "小区收款 <noreply@pay.example.com>", ConfigurationSet: "estatepay"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SendEmail(context.Background(), notify.EmailMessage{To: "a@example.com", Subject: "主题", Text: "正文"}); err != nil {
		t.Fatal(err)
	}
	in := api.in
	if f := aws.ToString(in.FromEmailAddress); !strings.HasPrefix(f, "=?utf-8?") || !strings.HasSuffix(f, " <noreply@pay.example.com>") {
		t.Errorf("from %q", f)
	}
	if strings.Join(in.Destination.ToAddresses, ",") != "a@example.com" || aws.ToString(in.ConfigurationSetName) != "estatepay" {
		t.Errorf("destination %+v, configuration set %v", in.Destination, in.ConfigurationSetName)
	}
	sm := in.Content.Simple
	if aws.ToString(sm.Subject.Data) != "主题" || aws.ToString(sm.Subject.Charset) != "UTF-8" || aws.ToString(sm.Body.Text.Data) != "正文" ||
		aws.ToString(sm.Body.Text.Charset) != "UTF-8" || sm.Body.Html != nil {
		t.Errorf("content %+v", sm)
	}

	for name, m := range map[string]notify.EmailMessage{
		"two recipients":      {To: "a@example.com, b@example.com", Subject: "s", Text: "t"},
		"display name":        {To: "A <a@example.com>", Subject: "s", Text: "t"},
		"not an address":      {To: "a.example.com", Subject: "s", Text: "t"},
		"header in subject":   {To: "a@example.com", Subject: "s\r\nBcc: x@example.com", Text: "t"},
		"empty subject":       {To: "a@example.com", Subject: " ", Text: "t"},
		"no text":             {To: "a@example.com", Subject: "s", HTML: "<p>h</p>"},
		"recipient with CRLF": {To: "a@example.com\r\n", Subject: "s", Text: "t"},
	} {
		api.in = nil
		if err := s.SendEmail(context.Background(), m); err == nil || api.in != nil {
			t.Errorf("%s: sent (%v)", name, err)
		}
	}
	if _, err := ses.New(api, ses.Config{From: "not an address"}); err == nil {
		t.Error("a sender that is no address was accepted")
	}
	cfg, err := ses.ConfigFromEnv(func(k string) string { return map[string]string{ses.EnvFrom: "noreply@pay.example.com"}[k] })
	if err != nil || cfg.From != "noreply@pay.example.com" || cfg.ConfigurationSet != "" {
		t.Errorf("from env: %+v %v", cfg, err)
	}
	if _, err := ses.ConfigFromEnv(func(string) string { return "" }); err == nil || !strings.Contains(err.Error(), ses.EnvFrom) {
		t.Errorf("empty env: %v", err)
	}
}
