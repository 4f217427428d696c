package template_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"

	"github.com/estatepay/estatepay/infra/local/stack"
	"github.com/estatepay/estatepay/infra/local/stacktest"
)

// payerHistory opens 我的缴费记录 as residents do, in WeChat (snsapi_base
// through the sandbox) and in Alipay (auth_base), from a code's page: the
// OAuth round trip, then the LandingFunction's Query on the payer index.
func payerHistory(t *testing.T, s *stack.Stack) {
	t.Helper()
	tok := stacktest.CommunityToken(t, s, "demo-both")
	for _, ua := range []string{"Mozilla/5.0 (iPhone) MicroMessenger/8.0.50", "Mozilla/5.0 (iPhone) AlipayClient/10.5.36"} {
		jar, _ := cookiejar.New(nil)
		c := &http.Client{Jar: jar, Transport: stacktest.HTTPClient.Transport}
		req, _ := http.NewRequest(http.MethodGet, s.URLs.Gateway+"/c/"+tok+"/history", nil)
		req.Header.Set("User-Agent", ua)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), "我的缴费记录") || resp.Request.URL.Path != "/c/"+tok+"/history" {
			t.Fatalf("%s: history %d at %s: %.300s", ua, resp.StatusCode, resp.Request.URL, b)
		}
	}
}
