package template_test

import (
	"context"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/estatepay/estatepay/infra/local/stack"
	"github.com/estatepay/estatepay/infra/local/stacktest"
)

// staffBindTheOfficialAccount has the demo admin bind the official account
// from 通知设置: the link made there (the token's conditional Put), opened
// through the WeChat WebView (the sandbox's snsapi_base round trip), binds
// the openid in one transaction (the token's conditional Update, the account
// at its version, the audit entry).
func staffBindTheOfficialAccount(t *testing.T, s *stack.Stack) {
	t.Helper()
	admin := stacktest.Console(t, s, "admin", stack.DemoCompanyID)
	status, body := admin.Call(t, http.MethodPost, "/admin/notifications/oa-bind", "application/x-www-form-urlencoded", nil)
	m := regexp.MustCompile(`<code>([^<]+/admin/oa-bind\?t=[^<]+)</code>`).FindSubmatch(body)
	if status != http.StatusOK || m == nil {
		t.Fatalf("通知设置, bind link: %d %.500s", status, body)
	}
	link := strings.Replace(html.UnescapeString(string(m[1])), s.URLs.Gateway, s.URLs.WeChatWebView, 1)
	jar, _ := cookiejar.New(nil)
	phone := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	resp, err := phone.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), "绑定成功") {
		t.Fatalf("bind link in WeChat: %d %.500s", resp.StatusCode, page)
	}
	st, err := s.Store().AccessRepo().GetStaff(context.Background(), "demo-admin")
	if err != nil || st.OfficialOpenID == "" {
		t.Fatalf("demo admin after binding: %+v %v", st, err)
	}
}
