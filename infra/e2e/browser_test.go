package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/estatepay/estatepay/infra/local/stack"
	"github.com/estatepay/estatepay/infra/sandbox/wechat"
	"github.com/estatepay/estatepay/shared/web"
)

// User-Agents of the apps' in-app browsers and of a desktop browser.
const (
	alipayUA  = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 AlipayClient/10.5.36"
	wechatUA  = wechat.WeChatUserAgent
	desktopUA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
)

// Exact texts of the product's pages.
const (
	msgNotOpen      = "小区暂未开通此功能"
	msgScanWithBoth = "请使用微信或支付宝扫码"
	msgScanAlipay   = "请使用支付宝扫码"
	statusPaid      = "支付成功"
)

// testBudget bounds each browser test; a stuck page fails the test instead of
// hanging the package.
const testBudget = 90 * time.Second

// browserPath finds the Chromium binary: $CHROME_PATH, else /usr/bin/chromium.
// A missing browser is a failure, not a skip: CI must install it.
func browserPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CHROME_PATH"); p != "" {
		if _, err := exec.LookPath(p); err != nil {
			t.Fatalf("e2e: CHROME_PATH=%q is not an executable browser (%v); unset it or run .ci/install-browser to install /usr/bin/chromium", p, err)
		}
		return p
	}
	const debian = "/usr/bin/chromium"
	if _, err := exec.LookPath(debian); err != nil {
		t.Fatalf("e2e: no browser: %s not found and CHROME_PATH unset; run .ci/install-browser (as root) to install Debian's chromium", debian)
	}
	return debian
}

// startBrowser starts a headless Chromium with a fresh profile for t and
// returns its browser context; tabs are opened with newTab.
func startBrowser(t *testing.T) context.Context {
	t.Helper()
	path := browserPath(t)
	profile := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), testBudget)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(profile),
	)
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	bctx, bcancel := chromedp.NewContext(actx)
	t.Cleanup(func() {
		bcancel()
		acancel()
		cancel()
	})
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("e2e: start %s: %v (reinstall with .ci/install-browser?)", path, err)
	}
	return bctx
}

// newTab opens a tab in the browser with a phone-sized viewport and, when ua
// is set, that User-Agent for every request of the tab.
func newTab(t *testing.T, browser context.Context, ua string) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser)
	t.Cleanup(cancel)
	if ua != "" {
		if _, err := chromedp.Call(ctx, emulation.SetUserAgentOverride, emulation.SetUserAgentOverrideParams{UserAgent: ua}); err != nil {
			t.Fatalf("e2e: set user agent: %v", err)
		}
	}
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2))); err != nil {
		t.Fatalf("e2e: viewport: %v", err)
	}
	return ctx
}

// stepTimeout bounds one do or run call.
const stepTimeout = 20 * time.Second

// do runs browser steps and fails the test with what the page shows when one
// fails.
func do(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(sctx, steps...); err != nil {
		t.Fatalf("e2e: %s: %v\n%s", what, err, pageState(ctx))
	}
}

// run runs one browser action that returns a value.
func run[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(sctx, a)
	if err != nil {
		t.Fatalf("e2e: %s: %v\n%s", what, err, pageState(ctx))
	}
	return v
}

// pageState describes the tab (URL and visible text) for failure messages.
func pageState(ctx context.Context) string {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		return fmt.Sprintf("(page state unavailable: %v)", err)
	}
	text, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	if err != nil {
		text = fmt.Sprintf("(text unavailable: %v)", err)
	}
	return fmt.Sprintf("page %s:\n%s", loc, text)
}

// eventually polls cond every 50ms until it holds or ctx (or max) runs out.
func eventually(t *testing.T, ctx context.Context, max time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, max)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, last := cond()
		if ok {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("e2e: timed out waiting for %s; last: %s", what, last)
		case <-tick.C:
		}
	}
}

// waitLocation waits until the tab's URL satisfies match and returns it.
func waitLocation(t *testing.T, ctx context.Context, what string, match func(string) bool) string {
	t.Helper()
	var loc string
	eventually(t, ctx, 30*time.Second, what, func() (bool, string) {
		qctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		l, err := chromedp.Run(qctx, chromedp.Location())
		if err != nil {
			return false, err.Error()
		}
		loc = l
		return match(l), l
	})
	return loc
}

// textOf is the trimmed textContent of the element with id, or "" when absent.
func textOf(t *testing.T, ctx context.Context, id string) string {
	t.Helper()
	return run(t, ctx, "read #"+id, chromedp.Evaluate[string](
		fmt.Sprintf(`(function(){var e=document.getElementById(%q);return e?e.textContent.trim():""})()`, id)))
}

// waitStatus waits until the result page's #status reads want.
func waitStatus(t *testing.T, ctx context.Context, want string) {
	t.Helper()
	do(t, ctx, "result page", chromedp.WaitVisible(chromedp.ID("status")))
	expr := fmt.Sprintf(`(function(){var e=document.getElementById("status");return !!e && e.textContent.trim()===%q})()`, want)
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		t.Fatalf("e2e: #status never read %q: %v\n%s", want, err, pageState(ctx))
	}
}

// saveScreenshot writes a full-page PNG to dir/name, and also to
// $E2E_SCREENSHOT_DIR when set (for looking at it after the test).
func saveScreenshot(t *testing.T, ctx context.Context, dir, name string) string {
	t.Helper()
	png := run(t, ctx, "screenshot", chromedp.FullScreenshot(100))
	if len(png) < 8 || string(png[1:4]) != "PNG" {
		t.Fatalf("e2e: screenshot is not a PNG (%d bytes)", len(png))
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	if extra := os.Getenv("E2E_SCREENSHOT_DIR"); extra != "" {
		if err := os.WriteFile(filepath.Join(extra, name), png, 0o644); err != nil {
			t.Errorf("e2e: copy screenshot: %v", err)
		}
	}
	return path
}

// community returns the seeded demo community with id.
func community(t *testing.T, s *stack.Stack, id string) stack.DemoCommunity {
	t.Helper()
	if s.Demo == nil {
		t.Fatal("e2e: stack has no demo data")
	}
	for _, c := range s.Demo.Communities {
		if c.ID == id {
			return c
		}
	}
	t.Fatalf("e2e: demo community %q not seeded", id)
	return stack.DemoCommunity{}
}

// getJSON GETs url with client (a console session's for the console API;
// nil: no session) and decodes a 200 response.
func getJSON(ctx context.Context, client *http.Client, url string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", url, resp.Status, strings.TrimSpace(string(body)))
	}
	return json.Unmarshal(body, out)
}

// orderView is the part of GET /api/orders/{id} the tests read.
type orderView struct {
	OrderID   string `json:"order_id"`
	Status    string `json:"status"`
	AmountFen int64  `json:"amount_fen"`
	Channel   string `json:"channel"`
}

// paymentsPage is the admin records endpoint's response.
type paymentsPage struct {
	CommunityID string `json:"community_id"`
	Payments    []struct {
		OrderID       string  `json:"order_id"`
		AmountFen     int64   `json:"amount_fen"`
		Amount        string  `json:"amount"`
		Channel       string  `json:"channel"`
		PaidAt        *string `json:"paid_at"`
		ProviderTxnID string  `json:"provider_txn_id"`
		PayerID       string  `json:"payer_id"`
	} `json:"payments"`
}

// countOrders counts the items of the OrdersTable.
func countOrders(t *testing.T, ctx context.Context, s *stack.Stack) int32 {
	t.Helper()
	st := s.Store()
	var n int32
	var start map[string]types.AttributeValue
	for {
		out, err := st.DB.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(st.Orders), Select: types.SelectCount,
			ExclusiveStartKey: start, ConsistentRead: aws.Bool(true)})
		if err != nil {
			t.Fatalf("e2e: scan %s: %v", st.Orders, err)
		}
		n += out.Count
		if len(out.LastEvaluatedKey) == 0 {
			return n
		}
		start = out.LastEvaluatedKey
	}
}

// payerCookie reads the tab's payer cookie for u (HttpOnly: through the
// DevTools protocol) and verifies it with the stack's key.
func payerCookie(t *testing.T, tab context.Context, s *stack.Stack, u string) web.Payer {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, stepTimeout)
	defer cancel()
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{u}})
	if err != nil {
		t.Fatalf("e2e: cookies of %s: %v", u, err)
	}
	var req web.Request
	for _, c := range res.Cookies {
		if c.Name == web.PayerCookieName {
			if !c.HTTPOnly || c.SameSite != network.CookieSameSiteLax {
				t.Errorf("e2e: payer cookie %s: HttpOnly %v SameSite %q", c.Path, c.HTTPOnly, c.SameSite)
			}
			req.Cookies = append(req.Cookies, c.Name+"="+c.Value)
		}
	}
	p, err := web.PayerCookies{Key: []byte(s.Keys().PayerCookieKey)}.Read(req, time.Now())
	if err != nil {
		t.Fatalf("e2e: payer cookie sent to %s: %v", u, err)
	}
	return p
}

// deletePayerCookies removes the tab's payer cookies (as if they expired).
func deletePayerCookies(t *testing.T, tab context.Context, s *stack.Stack) {
	t.Helper()
	for _, path := range []string{"/c/", "/api/orders"} {
		for _, base := range []string{s.URLs.WeChatWebView, s.URLs.Gateway} {
			if _, err := chromedp.Call(tab, network.DeleteCookies, network.DeleteCookiesParams{Name: web.PayerCookieName, URL: base + path}); err != nil {
				t.Fatalf("e2e: delete payer cookie: %v", err)
			}
		}
	}
}

// sandboxOpenID is the openid the WeChat sandbox gives the tab's user for
// the demo app (from its wxsandbox_uid cookie).
func sandboxOpenID(t *testing.T, tab context.Context, s *stack.Stack) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, stepTimeout)
	defer cancel()
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{s.URLs.WeChatSandbox + "/"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range res.Cookies {
		if c.Name == "wxsandbox_uid" {
			return wechat.OpenID(stack.DemoWeChatAppID, c.Value)
		}
	}
	t.Fatal("e2e: no sandbox user cookie")
	return ""
}

// Screen sizes of the screenshots: a phone and a desktop browser.
var (
	phoneViewport   = chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2))
	desktopViewport = chromedp.EmulateViewport(1280, 800)
)

// screenshots saves the page at phone and desktop size as <name>-390.png and
// <name>-desktop.png (see saveScreenshot), leaving the tab at phone size.
func screenshots(t *testing.T, tab context.Context, name string) {
	t.Helper()
	dir := t.TempDir()
	saveScreenshot(t, tab, dir, name+"-390.png")
	do(t, tab, "desktop viewport", desktopViewport)
	saveScreenshot(t, tab, dir, name+"-desktop.png")
	do(t, tab, "phone viewport", phoneViewport)
}
