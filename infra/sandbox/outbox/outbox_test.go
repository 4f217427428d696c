package outbox_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	tccommon "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	tcerrors "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/errors"
	tchttp "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/http"
	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/profile"

	"github.com/estatepay/estatepay/infra/sandbox/outbox"
)

const (
	secretID  = "AKIDoutboxtest000000000000000000001"
	secretKey = "outbox-test-secret-key-000000000001"
	appID     = "1400000002"
	signName  = "小区收款"
)

func start(t *testing.T, cfg outbox.Config) (*outbox.Server, string) {
	t.Helper()
	cfg.SMS = outbox.SMSConfig{SecretID: secretID, SecretKey: secretKey, SdkAppID: appID, SignName: signName}
	cfg.Logger = slog.New(slog.DiscardHandler)
	ob, err := outbox.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(ob.Handler())
	t.Cleanup(srv.Close)
	return ob, srv.URL
}

// tencentSDK sends SendSms with Tencent Cloud's official Go SDK (its common
// client, which signs with TC3-HMAC-SHA256 itself): the sandbox's signature
// check agrees with Tencent's own signer, not just with ours.
func tencentSDK(t *testing.T, endpoint, key string, phones ...string) (map[string]any, error) {
	t.Helper()
	cpf := profile.NewClientProfile()
	cpf.HttpProfile.Endpoint = strings.TrimPrefix(endpoint, "http://")
	cpf.HttpProfile.Scheme = "HTTP"
	cpf.HttpProfile.ReqMethod = "POST"
	c := tccommon.NewCommonClient(tccommon.NewCredential(secretID, key), "ap-guangzhou", cpf)
	req := tchttp.NewCommonRequest("sms", "2021-01-11", "SendSms")
	if err := req.SetActionParameters(map[string]any{"PhoneNumberSet": phones, "SmsSdkAppId": appID, "SignName": signName,
		"TemplateId": "1234567", "TemplateParamSet": []string{"<b>654321</b>", "5"}}); err != nil {
		t.Fatal(err)
	}
	resp := tchttp.NewCommonResponse()
	if err := c.Send(req, resp); err != nil {
		return nil, err
	}
	var out struct{ Response map[string]any }
	if err := json.Unmarshal(resp.GetBody(), &out); err != nil {
		t.Fatal(err)
	}
	return out.Response, nil
}

func TestOfficialTencentSDKIsAccepted(t *testing.T) {
	ob, url := start(t, outbox.Config{})
	out, err := tencentSDK(t, url, secretKey, "+8613800138000", "+8613900139000")
	if err != nil {
		t.Fatalf("SendSms with the official SDK: %v", err)
	}
	sts, _ := out["SendStatusSet"].([]any)
	if len(sts) != 2 || sts[0].(map[string]any)["Code"] != "Ok" || sts[1].(map[string]any)["PhoneNumber"] != "+8613900139000" {
		t.Fatalf("response %v", out)
	}
	if msgs := ob.Messages(); len(msgs) != 2 || msgs[0].To != "+8613900139000" || msgs[1].To != "+8613800138000" || msgs[0].Template != "1234567" {
		t.Fatalf("outbox (newest first) %+v", msgs)
	}

	_, err = tencentSDK(t, url, "a-wrong-secret-key", "+8613800138000")
	if e, ok := err.(*tcerrors.TencentCloudSDKError); !ok || e.Code != "AuthFailure.SignatureFailure" {
		t.Fatalf("wrong key: %v", err)
	}
	if len(ob.Messages()) != 2 {
		t.Fatal("a refused request was recorded")
	}
}

func sesClient(endpoint string) *sesv2.Client {
	return sesv2.New(sesv2.Options{Region: "ap-southeast-1", BaseEndpoint: aws.String(endpoint),
		Credentials: credentials.NewStaticCredentialsProvider("LOCALAdminFunction", "local", "")})
}

func sendEmail(t *testing.T, c *sesv2.Client, subject, text string) error {
	t.Helper()
	_, err := c.SendEmail(context.Background(), &sesv2.SendEmailInput{
		FromEmailAddress: aws.String("noreply@estatepay.local"),
		Destination:      &types.Destination{ToAddresses: []string{"a@example.com"}},
		Content: &types.EmailContent{Simple: &types.Message{Subject: &types.Content{Data: aws.String(subject)},
			Body: &types.Body{Text: &types.Content{Data: aws.String(text)}}}},
	})
	return err
}

// SES requests need a well-formed SigV4 Authorization for service ses.
func TestSESNeedsASigV4Signature(t *testing.T) {
	ob, url := start(t, outbox.Config{})
	if err := sendEmail(t, sesClient(url), "s", "t"); err != nil {
		t.Fatalf("signed by the SDK: %v", err)
	}
	body := `{"FromEmailAddress":"noreply@estatepay.local","Destination":{"ToAddresses":["a@example.com"]},"Content":{"Simple":{"Subject":{"Data":"s"},"Body":{"Text":{"Data":"t"}}}}}`
	now := time.Now().UTC()
	date, stamp := now.Format("20060102"), now.Format("20060102T150405Z")
	sig := strings.Repeat("ab", 32)
	for name, h := range map[string]map[string]string{
		"unsigned":            {},
		"other algorithm":     {"Authorization": "AWS3 AWSAccessKeyId=x", "X-Amz-Date": stamp},
		"other service":       {"Authorization": "AWS4-HMAC-SHA256 Credential=AKID/" + date + "/ap-southeast-1/email/aws4_request, SignedHeaders=host;x-amz-date, Signature=" + sig, "X-Amz-Date": stamp},
		"no date header":      {"Authorization": "AWS4-HMAC-SHA256 Credential=AKID/" + date + "/ap-southeast-1/ses/aws4_request, SignedHeaders=host;x-amz-date, Signature=" + sig},
		"date mismatch":       {"Authorization": "AWS4-HMAC-SHA256 Credential=AKID/20200101/ap-southeast-1/ses/aws4_request, SignedHeaders=host;x-amz-date, Signature=" + sig, "X-Amz-Date": stamp},
		"host not signed":     {"Authorization": "AWS4-HMAC-SHA256 Credential=AKID/" + date + "/ap-southeast-1/ses/aws4_request, SignedHeaders=x-amz-date, Signature=" + sig, "X-Amz-Date": stamp},
		"short signature":     {"Authorization": "AWS4-HMAC-SHA256 Credential=AKID/" + date + "/ap-southeast-1/ses/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc", "X-Amz-Date": stamp},
		"unsorted headers":    {"Authorization": "AWS4-HMAC-SHA256 Credential=AKID/" + date + "/ap-southeast-1/ses/aws4_request, SignedHeaders=x-amz-date;host, Signature=" + sig, "X-Amz-Date": stamp},
		"missing credential":  {"Authorization": "AWS4-HMAC-SHA256 SignedHeaders=host;x-amz-date, Signature=" + sig, "X-Amz-Date": stamp},
		"credential too long": {"Authorization": "AWS4-HMAC-SHA256 Credential=AKID/" + date + "/ap-southeast-1/ses/x/aws4_request, SignedHeaders=host;x-amz-date, Signature=" + sig, "X-Amz-Date": stamp},
	} {
		req, _ := http.NewRequest(http.MethodPost, url+"/v2/email/outbound-emails", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		for k, v := range h {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden || resp.Header.Get("X-Amzn-ErrorType") == "" || !strings.Contains(string(b), `"message"`) {
			t.Errorf("%s: %d %s %s", name, resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"), b)
		}
	}
	if n := len(ob.Messages()); n != 1 {
		t.Fatalf("%d messages; only the signed one belongs", n)
	}
}

// GET /messages lists every message newest first with the documented keys;
// sent_at is +08:00.
func TestMessagesJSON(t *testing.T) {
	now := time.Date(2026, 5, 1, 1, 2, 3, 0, time.UTC)
	_, url := start(t, outbox.Config{Now: func() time.Time { return now }})
	if err := sendEmail(t, sesClient(url), "第一封", "正文一"); err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Second)
	if _, err := tencentSDK(t, url, secretKey, "+8613800138000"); err == nil {
		t.Fatal("the official SDK signs with the wall clock; the sandbox's clock is in 2026-05 and must refuse it as expired")
	}
	now = time.Now()
	if _, err := tencentSDK(t, url, secretKey, "+8613800138000"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(url + "/messages")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var raw []map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&raw); err != nil || resp.Header.Get("Content-Type") != "application/json; charset=utf-8" {
		t.Fatalf("decode: %v %s", err, resp.Header.Get("Content-Type"))
	}
	if len(raw) != 2 {
		t.Fatalf("messages %v", raw)
	}
	for _, m := range raw {
		for _, k := range []string{"channel", "to", "subject", "template", "body", "params", "sent_at"} {
			if _, ok := m[k]; !ok {
				t.Errorf("message lacks %q: %v", k, m)
			}
		}
		if !strings.HasSuffix(m["sent_at"].(string), "+08:00") {
			t.Errorf("sent_at %v", m["sent_at"])
		}
	}
	sms, email := raw[0], raw[1]
	if sms["channel"] != "sms" || sms["to"] != "+8613800138000" || sms["template"] != "1234567" || len(sms["params"].([]any)) != 2 || sms["params"].([]any)[0] != "<b>654321</b>" {
		t.Errorf("sms %v", sms)
	}
	if email["channel"] != "email" || email["to"] != "a@example.com" || email["subject"] != "第一封" || email["body"] != "正文一" ||
		email["sent_at"] != "2026-05-01T09:02:03+08:00" || len(email["params"].([]any)) != 0 {
		t.Errorf("email %v", email)
	}
}

// The page a person reads: zh-CN, newest first, everything escaped, links
// in bodies clickable (http and https only).
func TestPageEscapesEverything(t *testing.T) {
	_, url := start(t, outbox.Config{})
	c := sesClient(url)
	if err := sendEmail(t, c, "较早的邮件", "第一封"); err != nil {
		t.Fatal(err)
	}
	evil := `<script>alert("x")</script>`
	if err := sendEmail(t, c, "主题"+evil, "请打开 https://pay.example.com/admin/set-password?token=a&b=1 设置密码\n"+evil+"\njavascript:alert(1) <img src=x onerror=alert(1)>"); err != nil {
		t.Fatal(err)
	}
	if _, err := tencentSDK(t, url, secretKey, "+8613800138000"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(url + "/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	html := string(b)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(html, `<html lang="zh-CN">`) ||
		!strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Fatalf("%d %v\n%s", resp.StatusCode, resp.Header, html)
	}
	for _, bad := range []string{"<script", "<img", "<b>654321</b>", `href="javascript`} {
		if strings.Contains(html, bad) {
			t.Errorf("page contains unescaped %q", bad)
		}
	}
	for _, want := range []string{"&lt;script&gt;", "&lt;b&gt;654321&lt;/b&gt;", "&lt;img src=x onerror=alert(1)&gt;",
		`<a href="https://pay.example.com/admin/set-password?token=a&amp;b=1">https://pay.example.com/admin/set-password?token=a&amp;b=1</a>`,
		"短信", "邮件", "共 3 条"} {
		if !strings.Contains(html, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	iSMS, iNew, iOld := strings.Index(html, "8613800138000"), strings.Index(html, "主题&lt;script"), strings.Index(html, "较早的邮件")
	if iSMS < 0 || iNew < 0 || iOld < 0 || iSMS >= iNew || iNew >= iOld {
		t.Errorf("not newest first: sms at %d, second e-mail at %d, first e-mail at %d", iSMS, iNew, iOld)
	}
}

// With a file the outbox survives a restart.
func TestOutboxPersists(t *testing.T) {
	file := filepath.Join(t.TempDir(), "outbox.json")
	ob1, url := start(t, outbox.Config{File: file})
	if err := sendEmail(t, sesClient(url), "一", "1"); err != nil {
		t.Fatal(err)
	}
	if err := sendEmail(t, sesClient(url), "二", "2"); err != nil {
		t.Fatal(err)
	}
	ob2, err := outbox.New(outbox.Config{File: file, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	m1, m2 := ob1.Messages(), ob2.Messages()
	if len(m2) != 2 || m2[0].Subject != "二" || m2[1].Subject != "一" || m2[0].ID != m1[0].ID || m2[0].SentAt != m1[0].SentAt {
		t.Fatalf("reloaded %+v, was %+v", m2, m1)
	}
	// The cap keeps the newest.
	ob3, _ := outbox.New(outbox.Config{File: file, Max: 2, Logger: slog.New(slog.DiscardHandler)})
	srv := httptest.NewServer(ob3.Handler())
	defer srv.Close()
	if err := sendEmail(t, sesClient(srv.URL), "三", "3"); err != nil {
		t.Fatal(err)
	}
	if m := ob3.Messages(); len(m) != 2 || m[0].Subject != "三" || m[1].Subject != "二" {
		t.Fatalf("capped %+v", m)
	}
}
