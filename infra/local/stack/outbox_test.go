package stack_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/estatepay/estatepay/infra/local/stack"
	"github.com/estatepay/estatepay/infra/local/stacktest"
	"github.com/estatepay/estatepay/infra/sandbox/outbox"
	"github.com/estatepay/estatepay/shared/notify"
	"github.com/estatepay/estatepay/shared/notify/ses"
	"github.com/estatepay/estatepay/shared/notify/tencentsms"
	"github.com/estatepay/estatepay/shared/platform"
	"github.com/estatepay/estatepay/shared/secrets"
)

// The stack serves the outbox at urls.outbox and deploys the template with
// SMS and e-mail settings that reach it: adapters built from AdminFunction's
// own environment, exactly as a function builds them, send an SMS and an
// e-mail that appear in GET <outbox>/messages and on the page.
func TestOutboxWiredToTheFunctions(t *testing.T) {
	dir := t.TempDir()
	s := stacktest.Start(t, stacktest.Options{StateDir: dir})

	var desc stack.Description
	b, err := os.ReadFile(filepath.Join(dir, "stack.json"))
	if err != nil || json.Unmarshal(b, &desc) != nil {
		t.Fatalf("stack.json: %v %s", err, b)
	}
	if desc.URLs.Outbox == "" || desc.URLs.Outbox != s.URLs.Outbox || !strings.HasPrefix(desc.URLs.Outbox, "http://127.0.0.1:") {
		t.Fatalf("urls.outbox %q (stack %q)", desc.URLs.Outbox, s.URLs.Outbox)
	}
	if desc.Sandbox.TencentSMS["secret_file"] != filepath.Join(dir, "keys", stack.TencentSMSSecretFile) || desc.Sandbox.SES["identity"] != stack.LocalSesIdentity {
		t.Errorf("stack.json sandbox settings: %+v %+v", desc.Sandbox.TencentSMS, desc.Sandbox.SES)
	}

	// AdminFunction's environment, as the stack runs it.
	var adminEnv map[string]string
	tm := s.Resolver().T
	for _, f := range tm.Functions() {
		env, err := s.FunctionEnv(f)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		for _, kv := range env {
			k, v, _ := strings.Cut(kv, "=")
			m[k] = v
		}
		if m["AWS_ENDPOINT_URL_SESV2"] != s.URLs.Outbox {
			t.Errorf("%s: AWS_ENDPOINT_URL_SESV2=%q, want the outbox", f.LogicalID, m["AWS_ENDPOINT_URL_SESV2"])
		}
		if f.LogicalID == "AdminFunction" {
			adminEnv = m
		}
	}
	if adminEnv == nil {
		t.Fatal("no AdminFunction")
	}
	for k, v := range adminEnv {
		if strings.HasPrefix(k, "AWS_") {
			t.Setenv(k, v)
		}
	}
	getenv := func(k string) string { return adminEnv[k] }
	if getenv(tencentsms.EnvEndpoint) != s.URLs.Outbox {
		t.Errorf("%s=%q, want the outbox", tencentsms.EnvEndpoint, getenv(tencentsms.EnvEndpoint))
	}
	ctx := context.Background()
	awsCfg, err := platform.AWSConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	smsCfg, err := tencentsms.ConfigFromEnv(getenv)
	if err != nil {
		t.Fatal(err)
	}
	sms, err := tencentsms.New(smsCfg, secrets.NewLoader(awsCfg))
	if err != nil {
		t.Fatal(err)
	}
	sesCfg, err := ses.ConfigFromEnv(getenv)
	if err != nil {
		t.Fatal(err)
	}
	mail, err := ses.NewFromConfig(awsCfg, sesCfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := sms.SendSMS(ctx, notify.SMSMessage{Phone: "13800138000", TemplateID: getenv("TENCENT_SMS_CODE_TEMPLATE_ID"), Params: []string{"135790"}}); err != nil {
		t.Fatalf("SMS: %v", err)
	}
	if err := mail.SendEmail(ctx, notify.EmailMessage{To: "admin@example.com", Subject: "设置登录密码", Text: "打开链接设置密码：" + s.URLs.Gateway + "/admin/set-password?token=t"}); err != nil {
		t.Fatalf("e-mail: %v", err)
	}

	resp, err := http.Get(s.URLs.Outbox + "/messages")
	if err != nil {
		t.Fatal(err)
	}
	var msgs []outbox.Message
	err = json.NewDecoder(resp.Body).Decode(&msgs)
	resp.Body.Close()
	if err != nil || len(msgs) != 2 {
		t.Fatalf("messages %+v %v", msgs, err)
	}
	if msgs[0].Channel != "email" || msgs[0].From != stack.LocalSesFromAddress || msgs[0].Subject != "设置登录密码" ||
		msgs[1].Channel != "sms" || msgs[1].To != "+8613800138000" || msgs[1].Body != "【小区收款】您的登录验证码为135790，5分钟内有效。如非本人操作，请忽略本短信。" {
		t.Fatalf("messages %+v", msgs)
	}
	resp, err = http.Get(s.URLs.Outbox + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(page), "135790") || !strings.Contains(string(page), "设置登录密码") {
		t.Errorf("outbox page lacks the messages:\n%s", page)
	}
	if _, err := os.Stat(filepath.Join(dir, "outbox.json")); err != nil {
		t.Errorf("outbox not kept under the state dir: %v", err)
	}
}
