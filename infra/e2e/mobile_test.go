package e2e

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/estatepay/estatepay/infra/local/stack"
	"github.com/estatepay/estatepay/infra/local/stacktest"
	"github.com/estatepay/estatepay/infra/qrscan"
	"github.com/estatepay/estatepay/shared/domain/notification"
)

// The business managers' app 星收付 (issue 11) on the local stack, in a
// 390×844 Chromium: the demo manager logs in on the app's own page, shows
// the code (decoded from the screen: what a customer's phone reads),
// customers pay it, the payments are in 收款记录 newest first and scroll to
// 没有更多了, 诊断 finds the payment page open from both sides, 刷新 shows a
// new code while the old one still answers, 设置 switches 接收收款成功通知,
// and a login elsewhere squeezes the phone out with 您的账号已在其他设备登录.
// The subtests code, records, diagnose and refresh need the managers' API
// (/m/api/code, /m/api/records, /m/api/code/refresh).
func TestMobileApp(t *testing.T) {
	b := consoleBrowser(t) // first: a missing browser fails before the stack starts
	s := stacktest.Start(t)
	mgr := account(t, s, "manager", false)
	tab := isolatedTab(t, b, "")
	gw := s.URLs.Gateway

	t.Run("login", func(t *testing.T) {
		open(t, tab, gw+"/m")
		if p := pagePath(t, tab); p != "/m/login?next=%2Fm" {
			t.Fatalf("the app without a session is at %s", p)
		}
		do(t, tab, "the login form", chromedp.WaitVisible(chromedp.ID("login")))
		mobileShots(t, tab, "login")
		fill(t, tab, "login form", map[string]string{"phone": mgr.Phone, "password": mgr.Password})
		submit(t, tab, "log in", "#login")
		if p := pagePath(t, tab); p != "/m" {
			t.Fatalf("logged in, the app is at %s\n%s", p, pageState(tab))
		}
	})

	var codeURL string
	t.Run("code", func(t *testing.T) { // needs GET /m/api/code (the managers' API)
		var code struct {
			URL       string  `json:"url"`
			ExpiresAt *string `json:"expires_at"`
		}
		if err := getJSON(context.Background(), mobileClient(t, tab, s), gw+"/m/api/code", &code); err != nil {
			t.Fatal(err)
		}
		if code.ExpiresAt != nil || !strings.HasPrefix(code.URL, gw+"/c/") {
			t.Fatalf("GET /m/api/code: %+v", code)
		}
		open(t, tab, gw+"/m")
		do(t, tab, "the code", chromedp.WaitVisible(chromedp.ID("qr")))
		shot := run(t, tab, "the code on screen", chromedp.Screenshot(chromedp.ID("qr")))
		img, err := png.Decode(bytes.NewReader(shot))
		if err != nil {
			t.Fatal(err)
		}
		got, err := qrscan.Read(img)
		if err != nil || got != code.URL {
			t.Fatalf("the code on screen reads %q (%v), want %s", got, err, code.URL)
		}
		if w := img.Bounds().Dx(); w < 520 {
			t.Errorf("the code is %d device pixels wide at 390×844 (scale 2), want ≥ 520", w)
		}
		codeURL = code.URL
		mobileShots(t, tab, "home")
	})

	t.Run("records", func(t *testing.T) { // needs the code and GET /m/api/records
		if codeURL == "" {
			t.Fatal("no code to pay (see the code subtest)")
		}
		token := path.Base(codeURL)
		// 16 customers pay the code: one more than a page.
		var newest int64
		for i := 1; i <= 16; i++ {
			amount := int64(1000 + i)
			o := stacktest.CreateOrder(t, s, token, "wechat", amount, fmt.Sprintf("oMobileE2ECustomer%02d", i))
			if err := s.WeChat().Pay(o.OrderID); err != nil {
				t.Fatal(err)
			}
			stacktest.WaitFor(t, "payment "+o.OrderID, 20*time.Second, func() bool { return stacktest.GetOrder(t, s, o.OrderID).Status == "PAID" })
			newest = amount
		}
		open(t, tab, gw+"/m/records")
		eventually(t, tab, 20*time.Second, "the first page", func() (bool, string) {
			n := run(t, tab, "rows", chromedp.Evaluate[int](`document.querySelectorAll("#list li").length`))
			return n == 15, fmt.Sprint(n, " rows")
		})
		first := run(t, tab, "the first row", chromedp.Text(chromedp.CSS("#list li:first-child")))
		if want := fmt.Sprintf("¥%d.%02d", newest/100, newest%100); !strings.Contains(first, want) || !strings.Contains(first, "微信") {
			t.Fatalf("the newest payment (%s) is not at the top: %q", want, first)
		}
		mobileShots(t, tab, "records")
		eventually(t, tab, 20*time.Second, "the end of the records", func() (bool, string) {
			run(t, tab, "scroll", chromedp.Evaluate[bool](`window.scrollTo(0, document.body.scrollHeight), true`))
			n := run(t, tab, "rows", chromedp.Evaluate[int](`document.querySelectorAll("#list li").length`))
			end := textOf(t, tab, "end")
			return n == 16 && end == "没有更多了", fmt.Sprintf("%d rows, %q", n, end)
		})
		do(t, tab, "open the newest", chromedp.Click(chromedp.CSS("#list li:first-child button")), chromedp.WaitVisible(chromedp.ID("detail")))
		eventually(t, tab, 10*time.Second, "the detail", func() (bool, string) {
			txt := run(t, tab, "detail", chromedp.Text(chromedp.ID("detail")))
			return strings.Contains(txt, "（北京时间）") && strings.Contains(txt, "微信") && strings.Contains(txt, "已支付"), txt
		})
		mobileShots(t, tab, "record")
	})

	t.Run("diagnose", func(t *testing.T) { // needs the code: the server and the phone open its payment page
		if codeURL == "" {
			t.Fatal("no code (see the code subtest)")
		}
		open(t, tab, gw+"/m/diagnose")
		eventually(t, tab, 20*time.Second, "the diagnosis", func() (bool, string) {
			out := run(t, tab, "outcome", chromedp.Evaluate[string](`(function(){var a=document.getElementById("advice");return a&&!a.hidden?a.getAttribute("data-outcome"):""})()`))
			return out != "", out
		})
		if out := run(t, tab, "outcome", chromedp.Evaluate[string](`document.getElementById("advice").getAttribute("data-outcome")`)); out != "server-ok phone-ok" {
			t.Fatalf("diagnosis %q\n%s", out, pageState(tab))
		}
		mobileShots(t, tab, "diagnose")
	})

	t.Run("refresh", func(t *testing.T) { // needs POST /m/api/code/refresh
		if codeURL == "" {
			t.Fatal("no code (see the code subtest)")
		}
		open(t, tab, gw+"/m")
		do(t, tab, "tap the code", chromedp.WaitVisible(chromedp.ID("qr")), chromedp.Click(chromedp.ID("qr")), chromedp.WaitVisible(chromedp.ID("confirm-yes")))
		mobileShots(t, tab, "refresh")
		do(t, tab, "刷新", chromedp.Click(chromedp.ID("confirm-yes")))
		eventually(t, tab, 20*time.Second, "the new code", func() (bool, string) {
			txt := run(t, tab, "notice", chromedp.Evaluate[string](`(function(){var n=document.querySelector(".notice");return n?n.textContent:""})()`))
			return strings.Contains(txt, "之前的收款码将于") && strings.HasSuffix(txt, "失效"), txt
		})
		shot := run(t, tab, "the code on screen", chromedp.Screenshot(chromedp.ID("qr")))
		img, err := png.Decode(bytes.NewReader(shot))
		if err != nil {
			t.Fatal(err)
		}
		got, err := qrscan.Read(img)
		if err != nil || got == codeURL || !strings.HasPrefix(got, gw+"/c/") {
			t.Fatalf("after 刷新 the code reads %q (%v); before it read %s", got, err, codeURL)
		}
		// The previous code still pays (for 3 hours): its page answers.
		resp, err := http.Get(codeURL)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("the previous code's page answered %d right after 刷新", resp.StatusCode)
		}
		mobileShots(t, tab, "refreshed")
	})

	t.Run("settings", func(t *testing.T) {
		open(t, tab, gw+"/m/settings")
		do(t, tab, "the switch", chromedp.WaitVisible(chromedp.ID("notify")))
		if on := run(t, tab, "switch", chromedp.Evaluate[bool](`document.getElementById("notify").checked`)); on {
			t.Fatal("接收收款成功通知 is on before being chosen")
		}
		do(t, tab, "switch on", chromedp.Click(chromedp.ID("notify")))
		eventually(t, tab, 10*time.Second, "saved", func() (bool, string) {
			txt := textOf(t, tab, "notify-state")
			return txt == "已开启收款成功通知", txt
		})
		ctx := context.Background()
		id, err := s.Store().AccessRepo().StaffIDByPhone(ctx, mgr.Phone)
		if err != nil {
			t.Fatal(err)
		}
		p, ok, err := s.Store().NotificationRepo().Preference(ctx, stack.DemoCompanyID, notification.OwnCodes, id)
		if err != nil || !ok || !p.Payments || p.Channel != notification.WeChatOA {
			t.Fatalf("the stored choice: %+v %v %v", p, ok, err)
		}
		mobileShots(t, tab, "settings")
	})

	t.Run("squeezed out by a login in WeChat", func(t *testing.T) {
		// Another phone opens the app in WeChat: the login page takes the
		// official account's OAuth round trip (the sandbox), and a WeChat
		// identity new to the account gets the SMS step (code from the outbox).
		other := isolatedTab(t, b, wechatUA)
		open(t, other, gw+"/m")
		do(t, other, "the login form", chromedp.WaitVisible(chromedp.ID("login")))
		if n := run(t, other, "wxcode", chromedp.Evaluate[int](`document.querySelectorAll('#login input[name="wxcode"]').length`)); n != 1 {
			t.Fatalf("the login form in WeChat carries no OAuth code\n%s", pageState(other))
		}
		before := len(smsCodesTo(t, s, mgr.Phone))
		fill(t, other, "login form", map[string]string{"phone": mgr.Phone, "password": mgr.Password})
		submit(t, other, "log in in WeChat", "#login")
		do(t, other, "the SMS step", chromedp.WaitVisible(chromedp.ID("sms")))
		mobileShots(t, other, "sms")
		var codes []string
		eventually(t, other, 10*time.Second, "the SMS code in the outbox", func() (bool, string) {
			codes = smsCodesTo(t, s, mgr.Phone)
			return len(codes) > before, fmt.Sprint(codes)
		})
		fill(t, other, "SMS form", map[string]string{"code": codes[len(codes)-1]})
		submit(t, other, "verify", "#sms")
		if p := pagePath(t, other); p != "/m" {
			t.Fatalf("after the SMS code the app is at %s\n%s", p, pageState(other))
		}
		if st := open(t, tab, gw+"/m/records"); st != http.StatusUnauthorized {
			t.Errorf("the squeezed-out phone's next page answered %d, want 401", st)
		}
		if txt := textOf(t, tab, "squeezed"); txt == "" || !strings.Contains(bodyText(t, tab), "您的账号已在其他设备登录") {
			t.Fatalf("the squeezed-out page:\n%s", pageState(tab))
		}
		mobileShots(t, tab, "squeezed-out")
	})
}

// smsCodesTo are the sign-in codes the outbox holds for phone, oldest first.
func smsCodesTo(t *testing.T, s *stack.Stack, phone string) []string {
	t.Helper()
	var msgs []struct {
		Channel, To string
		Params      []string
	}
	if err := getJSON(context.Background(), nil, s.URLs.Outbox+"/messages", &msgs); err != nil {
		t.Fatal(err)
	}
	var codes []string
	for _, m := range msgs {
		if m.Channel == "sms" && m.To == "+86"+phone && len(m.Params) == 1 {
			codes = append(codes, m.Params[0])
		}
	}
	return codes
}

// mobileClient carries the tab's session for the app's API (its /m cookie).
func mobileClient(t *testing.T, tab context.Context, s *stack.Stack) *http.Client {
	t.Helper()
	res, err := chromedp.Call(tab, network.GetCookies, network.GetCookiesParams{URLs: []string{s.URLs.Gateway + "/m/api/"}})
	if err != nil {
		t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	u, _ := url.Parse(s.URLs.Gateway + "/m/")
	var found bool
	for _, c := range res.Cookies {
		if c.Name == "ep_session" && c.Path == "/m" {
			found = true
			if !c.HTTPOnly || c.SameSite != network.CookieSameSiteLax {
				t.Errorf("ep_session for /m: HttpOnly %v SameSite %q", c.HTTPOnly, c.SameSite)
			}
		}
		jar.SetCookies(u, []*http.Cookie{{Name: c.Name, Value: c.Value, Path: c.Path}})
	}
	if !found {
		t.Fatal("the browser holds no ep_session cookie for /m")
	}
	return &http.Client{Jar: jar, Timeout: 30 * time.Second}
}

// mobileShots saves the page at 390×844 and 1280×800 (see saveScreenshot:
// also into $E2E_SCREENSHOT_DIR) as mobile-app-<name>-390.png and -1280.png.
func mobileShots(t *testing.T, tab context.Context, name string) {
	t.Helper()
	dir := t.TempDir()
	saveScreenshot(t, tab, dir, "mobile-app-"+name+"-390.png")
	do(t, tab, "desktop viewport", desktopViewport)
	saveScreenshot(t, tab, dir, "mobile-app-"+name+"-1280.png")
	do(t, tab, "phone viewport", phoneViewport)
}
