package tencentsms_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/estatepay/estatepay/infra/sandbox/outbox"
	"github.com/estatepay/estatepay/shared/notify"
	"github.com/estatepay/estatepay/shared/notify/tencentsms"
)

const (
	secretID  = "AKIDsandbox0000000000000000000000001"
	secretKey = "sandbox-secret-key-0123456789abcdef"
	appID     = "1400000001"
	signName  = "小区收款"
	codeTpl   = "2000001"
)

// secretFile is a secret loader holding one reference.
type secretFile map[string]string

func (f secretFile) Load(_ context.Context, ref string) ([]byte, error) {
	v, ok := f[ref]
	if !ok {
		return nil, errors.New("no such secret")
	}
	return []byte(v), nil
}

func keyJSON(id, key string) string {
	return `{"secret_id":"` + id + `","secret_key":"` + key + `"}`
}

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func sandbox(t *testing.T, c *clock, limit int) (*outbox.Server, string) {
	t.Helper()
	ob, err := outbox.New(outbox.Config{Now: c.now, Logger: slog.New(slog.DiscardHandler), SMS: outbox.SMSConfig{SecretID: secretID, SecretKey: secretKey, SdkAppID: appID, SignName: signName,
		Templates: map[string]string{codeTpl: "您的登录验证码为{1}，{2}分钟内有效。"}, DailyLimitPerPhone: limit}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(ob.Handler())
	t.Cleanup(srv.Close)
	return ob, srv.URL
}

func client(t *testing.T, endpoint string, c *clock, key string, hc *http.Client) *tencentsms.Client {
	t.Helper()
	cl, err := tencentsms.New(tencentsms.Config{Endpoint: endpoint, SdkAppID: appID, SignName: signName, SecretRef: "file:///keys/sms",
		Now: c.now, HTTPClient: hc}, secretFile{"file:///keys/sms": key})
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

func code(err error) string {
	var e *tencentsms.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// The adapter's SendSms is accepted by the sandbox, which verifies the TC3
// signature with its own copy of the key, and lands in the outbox.
func TestSendThroughTheSandbox(t *testing.T) {
	c := &clock{time.Date(2026, 3, 1, 23, 59, 30, 0, time.UTC)} // 07:59 next day in Shanghai; scope date is UTC's
	ob, url := sandbox(t, c, 0)
	cl := client(t, url, c, keyJSON(secretID, secretKey), nil)
	if err := cl.SendSMS(context.Background(), notify.SMSMessage{Phone: "13800138000", TemplateID: codeTpl, Params: []string{"246810", "5"}}); err != nil {
		t.Fatalf("send: %v", err)
	}
	msgs := ob.Messages()
	if len(msgs) != 1 {
		t.Fatalf("outbox: %+v", msgs)
	}
	m := msgs[0]
	if m.Channel != "sms" || m.To != "+8613800138000" || m.Template != codeTpl || strings.Join(m.Params, ",") != "246810,5" ||
		m.Body != "【小区收款】您的登录验证码为246810，5分钟内有效。" || m.SentAt != "2026-03-02T07:59:30+08:00" {
		t.Fatalf("message %+v", m)
	}
}

// A wrong key, an unknown key id, a stale timestamp or a body changed after
// signing is refused, and nothing is sent.
func TestSandboxRefusesBadSignatures(t *testing.T) {
	c := &clock{time.Now()}
	ob, url := sandbox(t, c, 0)
	msg := notify.SMSMessage{Phone: "13800138000", TemplateID: codeTpl, Params: []string{"111111", "5"}}
	ctx := context.Background()

	if err := client(t, url, c, keyJSON(secretID, "not-the-key"), nil).SendSMS(ctx, msg); code(err) != "AuthFailure.SignatureFailure" {
		t.Errorf("wrong key: %v", err)
	}
	if err := client(t, url, c, keyJSON("AKIDunknown", secretKey), nil).SendSMS(ctx, msg); code(err) != "AuthFailure.SecretIdNotFound" {
		t.Errorf("unknown key id: %v", err)
	}
	stale := &clock{c.t.Add(-6 * time.Minute)}
	if err := client(t, url, stale, keyJSON(secretID, secretKey), nil).SendSMS(ctx, msg); code(err) != "AuthFailure.SignatureExpire" {
		t.Errorf("stale timestamp: %v", err)
	}
	tamper := &http.Client{Transport: rewrite{func(b []byte) []byte { return bytes.Replace(b, []byte("111111"), []byte("999999"), 1) }}}
	if err := client(t, url, c, keyJSON(secretID, secretKey), tamper).SendSMS(ctx, msg); code(err) != "AuthFailure.SignatureFailure" {
		t.Errorf("body changed after signing: %v", err)
	}
	if n := len(ob.Messages()); n != 0 {
		t.Fatalf("%d messages recorded from refused requests", n)
	}
	// The same client with the right key goes through (the refusals were the key's).
	if err := client(t, url, c, keyJSON(secretID, secretKey), nil).SendSMS(ctx, msg); err != nil {
		t.Fatal(err)
	}
}

// rewrite changes a request body in flight (keeping the signature).
type rewrite struct{ f func([]byte) []byte }

func (r rewrite) RoundTrip(req *http.Request) (*http.Response, error) {
	b, _ := io.ReadAll(req.Body)
	b = r.f(b)
	req = req.Clone(req.Context())
	req.Body, req.ContentLength = io.NopCloser(bytes.NewReader(b)), int64(len(b))
	return http.DefaultTransport.RoundTrip(req)
}

// The per-number status codes map to the error categories callers act on.
func TestSendStatusCodesMapToErrors(t *testing.T) {
	c := &clock{time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC)}
	_, url := sandbox(t, c, 2)
	cl := client(t, url, c, keyJSON(secretID, secretKey), nil)
	ctx := context.Background()
	msg := notify.SMSMessage{Phone: "13900139000", TemplateID: codeTpl, Params: []string{"123456", "5"}}
	for i := range 2 {
		if err := cl.SendSMS(ctx, msg); err != nil {
			t.Fatalf("send %d: %v", i+1, err)
		}
	}
	err := cl.SendSMS(ctx, msg)
	if code(err) != "LimitExceeded.PhoneNumberDailyLimit" || !errors.Is(err, tencentsms.ErrRateLimited) || errors.Is(err, tencentsms.ErrBadPhone) {
		t.Fatalf("third send of the day: %v", err)
	}
	c.t = c.t.Add(24 * time.Hour) // the next Shanghai day
	if err := cl.SendSMS(ctx, msg); err != nil {
		t.Fatalf("next day: %v", err)
	}

	err = cl.SendSMS(ctx, notify.SMSMessage{Phone: "+8612345678901", TemplateID: codeTpl, Params: []string{"1", "5"}})
	if code(err) != "InvalidParameterValue.IncorrectPhoneNumber" || !errors.Is(err, tencentsms.ErrBadPhone) || errors.Is(err, tencentsms.ErrRateLimited) {
		t.Errorf("bad number: %v", err)
	}
	if err := cl.SendSMS(ctx, notify.SMSMessage{Phone: "12345", TemplateID: codeTpl}); !errors.Is(err, tencentsms.ErrBadPhone) {
		t.Errorf("not a number: %v", err)
	}
	err = cl.SendSMS(ctx, notify.SMSMessage{Phone: "13900139001", TemplateID: "999", Params: []string{"1"}})
	if code(err) != "FailedOperation.TemplateIncorrectOrUnapproved" || errors.Is(err, tencentsms.ErrRateLimited) {
		t.Errorf("unknown template: %v", err)
	}
	err = cl.SendSMS(ctx, notify.SMSMessage{Phone: "13900139001", TemplateID: codeTpl, Params: []string{"1"}})
	if code(err) != "FailedOperation.TemplateParamSetNotMatchApprovedTemplate" {
		t.Errorf("parameter count: %v", err)
	}
}

// Answers the sandbox does not give: a service error, a non-200, nothing listening.
func TestServiceFailuresAreUnavailable(t *testing.T) {
	c := &clock{time.Now()}
	for name, h := range map[string]http.HandlerFunc{
		"internal error": func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, `{"Response":{"Error":{"Code":"InternalError.Timeout","Message":"超时"},"RequestId":"r1"}}`)
		},
		"http 502": func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusBadGateway) },
		"no status for the number": func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, `{"Response":{"SendStatusSet":[],"RequestId":"r2"}}`)
		},
		"api rate": func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, `{"Response":{"Error":{"Code":"RequestLimitExceeded","Message":"频率超限"},"RequestId":"r3"}}`)
		},
	} {
		srv := httptest.NewServer(h)
		err := client(t, srv.URL, c, keyJSON(secretID, secretKey), nil).SendSMS(context.Background(), notify.SMSMessage{Phone: "13800138000", TemplateID: "1"})
		srv.Close()
		want := tencentsms.ErrUnavailable
		if name == "api rate" {
			want = tencentsms.ErrRateLimited
		}
		if !errors.Is(err, want) {
			t.Errorf("%s: %v, want %v", name, err, want)
		}
		if name == "no status for the number" && (err == nil || errors.Is(err, tencentsms.ErrRateLimited)) {
			t.Errorf("%s: %v", name, err)
		}
	}
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	if err := client(t, srv.URL, c, keyJSON(secretID, secretKey), nil).SendSMS(context.Background(), notify.SMSMessage{Phone: "13800138000", TemplateID: "1"}); !errors.Is(err, tencentsms.ErrUnavailable) {
		t.Errorf("connection refused: %v", err)
	}
}

// The request is what SendSms documents: headers, body, and a signature over
// content-type, host and the action.
func TestRequestShape(t *testing.T) {
	c := &clock{time.Unix(1767225600, 0)}
	var got *http.Request
	var body []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, body = r, must(io.ReadAll(r.Body))
		_, _ = io.WriteString(w, `{"Response":{"SendStatusSet":[{"PhoneNumber":"+8613800138000","Code":"Ok","Message":"send success"}],"RequestId":"r"}}`)
	}))
	defer srv.Close()
	if err := client(t, srv.URL, c, keyJSON(secretID, secretKey), nil).SendSMS(context.Background(), notify.SMSMessage{Phone: "13800138000", TemplateID: codeTpl, Params: nil}); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{"X-TC-Action": "SendSms", "X-TC-Version": "2021-01-11", "X-TC-Region": "ap-guangzhou",
		"X-TC-Timestamp": "1767225600", "Content-Type": "application/json; charset=utf-8"} {
		if got.Header.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, got.Header.Get(k), v)
		}
	}
	want := `{"PhoneNumberSet":["+8613800138000"],"SmsSdkAppId":"1400000001","SignName":"小区收款","TemplateId":"2000001","TemplateParamSet":[]}`
	if string(body) != want || got.Method != http.MethodPost || got.URL.Path != "/" {
		t.Errorf("%s %s %s", got.Method, got.URL.Path, body)
	}
	auth, err := tencentsms.ParseAuthorization(got.Header.Get("Authorization"))
	if err != nil || auth.SecretID != secretID || auth.Date != "2026-01-01" || auth.Service != "sms" || strings.Join(auth.SignedHeaders, ";") != "content-type;host;x-tc-action" {
		t.Fatalf("authorization %q: %+v %v", got.Header.Get("Authorization"), auth, err)
	}
	s := tencentsms.Signed{Method: "POST", Path: "/", Payload: body, Service: "sms", Timestamp: 1767225600,
		Headers: map[string]string{"content-type": "application/json; charset=utf-8", "host": got.Host, "x-tc-action": "SendSms"}}
	// Canonical headers: names and values in lower case.
	if !strings.Contains(s.CanonicalRequest(), "\nx-tc-action:sendsms\n\ncontent-type;host;x-tc-action\n") {
		t.Errorf("canonical request:\n%s", s.CanonicalRequest())
	}
	if !s.Verify(secretKey, auth.Signature) || s.Verify("other", auth.Signature) {
		t.Error("signature does not verify with the key it was made with, or verifies with another")
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestConfig(t *testing.T) {
	if _, err := tencentsms.New(tencentsms.Config{SdkAppID: appID}, secretFile{}); err == nil || !strings.Contains(err.Error(), "SignName") || !strings.Contains(err.Error(), "SecretRef") {
		t.Errorf("missing config: %v", err)
	}
	if _, err := tencentsms.New(tencentsms.Config{Endpoint: "sms.tencentcloudapi.com", SdkAppID: appID, SignName: "x", SecretRef: "r"}, secretFile{}); err == nil {
		t.Error("an endpoint without scheme was accepted")
	}
	env := map[string]string{tencentsms.EnvSdkAppID: appID, tencentsms.EnvSignName: signName, tencentsms.EnvSecretRef: "estatepay/dev/tencent-sms"}
	cfg, err := tencentsms.ConfigFromEnv(func(k string) string { return env[k] })
	if err != nil || cfg.SdkAppID != appID || cfg.SignName != signName || cfg.SecretRef != "estatepay/dev/tencent-sms" || cfg.Endpoint != "" {
		t.Errorf("from env: %+v %v", cfg, err)
	}
	if _, err := tencentsms.ConfigFromEnv(func(string) string { return "" }); err == nil || !strings.Contains(err.Error(), tencentsms.EnvSecretRef) {
		t.Errorf("empty env: %v", err)
	}
	// A secret that is not the key pair JSON is refused without echoing it.
	cl, _ := tencentsms.New(tencentsms.Config{SdkAppID: appID, SignName: "x", SecretRef: "r"}, secretFile{"r": "plain-secret-value"})
	if err := cl.SendSMS(context.Background(), notify.SMSMessage{Phone: "13800138000", TemplateID: "1"}); err == nil || strings.Contains(err.Error(), "plain-secret-value") {
		t.Errorf("bad secret: %v", err)
	}
}

func TestE164(t *testing.T) {
	for in, want := range map[string]string{"13800138000": "+8613800138000", " 13800138000 ": "+8613800138000", "+8613800138000": "+8613800138000", "+85291234567": "+85291234567"} {
		if got, err := tencentsms.E164(in); err != nil || got != want {
			t.Errorf("E164(%q) = %q, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "23800138000", "1380013800", "138001380001", "+86 13800138000", "+", "1380013800a"} {
		if _, err := tencentsms.E164(in); !errors.Is(err, tencentsms.ErrBadPhone) {
			t.Errorf("E164(%q) accepted", in)
		}
	}
}
