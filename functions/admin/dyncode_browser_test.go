package main

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/estatepay/estatepay/shared/dyncode"
)

// The screen code in headless Chromium at 390×844: the code decodes to its
// URL with this minute's token, the 分付 mark and note are shown, and when
// the minute turns the script fetches the next code and the screen shows it
// — no reload (the page's marker survives). The server's clock is the
// test's; the browser only waits for what the server says.
func TestScreenCodeInTheBrowser(t *testing.T) {
	tab := phoneBrowser(t)
	f, fc := mobileFixture(t)
	srv := mobileServer(t, f.h)
	f.h.PublicBaseURL, fc.base = srv.URL, srv.URL
	m := time.Date(2026, 12, 6, 15, 4, 0, 0, time.UTC)
	// 59.5 s into minute m: the page's first refresh is due in 500 ms, and
	// polls every 800 ms until the test turns the minute.
	clock := &testClock{t: m.Add(time.Minute - 500*time.Millisecond)}
	signer := &dyncode.Signer{Key: screenKey}
	f.h.Mobile.Now = clock.now
	f.h.Screen = Screen{Signer: signer, Fenfu: func(context.Context, string) (bool, error) { return true, nil }}

	bstep(t, tab, "open the app", chromedp.Navigate(srv.URL+"/m"), chromedp.WaitVisible(chromedp.ID("login")))
	bstep(t, tab, "log in", chromedp.SendKeys(chromedp.ID("phone"), "13800000003"), chromedp.SendKeys(chromedp.ID("password"), "pw-manager-a"),
		chromedp.Click(chromedp.CSS(`#login button[type="submit"]`)), chromedp.WaitVisible(chromedp.ID("code")))
	bstep(t, tab, "open 动态码", chromedp.Navigate(srv.URL+"/m/screen"), chromedp.WaitVisible(chromedp.CSS("#qr svg")))
	first := qrOnScreen(t, tab)
	u, err := url.Parse(first)
	if err != nil || u.Path != "/c/tok-default-aaaaaaaaaaaaaaaaaa" {
		t.Fatalf("the screen code says %q", first)
	}
	if err := signer.Verify("tok-default-aaaaaaaaaaaaaaaaaa", u.Query().Get("d"), m); err != nil {
		t.Fatalf("its token at m: %v", err)
	}
	text := bval(t, tab, "page text", chromedp.Evaluate[string](`document.body.innerText`))
	for _, want := range []string{"支持微信分付", "秒后更新", "截图或拍照两分钟内失效"} {
		if !strings.Contains(text, want) {
			t.Errorf("the screen lacks %q:\n%s", want, text)
		}
	}
	mark := bval(t, tab, "the mark", chromedp.Evaluate[bool](`(function(){var q=document.querySelector('#qr svg').getBoundingClientRect(),
		r=document.querySelector('#qr .fenfu-mark rect').getBoundingClientRect();
		return getComputedStyle(document.querySelector('#qr .fenfu-mark rect')).fill.indexOf('22, 119, 255')>0 && r.right>q.right-q.width*0.3 && r.top<q.top+q.height*0.25 && r.width>20;})()`))
	if !mark {
		t.Error("no blue 「分」 mark at the code's top right")
	}
	shots(t, tab, "screen")

	// The minute turns.
	bval(t, tab, "mark the page", chromedp.Evaluate[bool](`window.__notReloaded = true`))
	clock.set(m.Add(time.Minute + time.Second))
	bwait(t, tab, "the next minute's code", `document.getElementById('qr').getAttribute('data-url') !== `+jsString(first))
	second := qrOnScreen(t, tab)
	u2, _ := url.Parse(second)
	if second == first || u2.Path != u.Path {
		t.Fatalf("after the minute turned the code says %q (before %q)", second, first)
	}
	if err := signer.Verify("tok-default-aaaaaaaaaaaaaaaaaa", u2.Query().Get("d"), m.Add(time.Minute)); err != nil || u2.Query().Get("d") != signer.TokenAt("tok-default-aaaaaaaaaaaaaaaaaa", m.Add(time.Minute)) {
		t.Fatalf("the new token: %v", err)
	}
	if !bval(t, tab, "no reload", chromedp.Evaluate[bool](`window.__notReloaded === true`)) {
		t.Fatal("the page reloaded")
	}
}

func jsString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}
