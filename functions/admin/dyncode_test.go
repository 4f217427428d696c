package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/estatepay/estatepay/shared/dyncode"
	"github.com/estatepay/estatepay/shared/qrprint"
	"github.com/estatepay/estatepay/shared/web"
)

var screenKey = []byte("screen-test-key-screen-test-key-0")

// testClock is a settable clock.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

func screenAnswer(t *testing.T, r web.Response) ScreenCode {
	t.Helper()
	if r.StatusCode != http.StatusOK {
		t.Fatalf("screen API: %d %s", r.StatusCode, r.Body)
	}
	var sc ScreenCode
	if err := json.Unmarshal([]byte(r.Body), &sc); err != nil {
		t.Fatal(err)
	}
	return sc
}

// The screen code (F7): GET /m/api/screen answers the caller's code with
// this minute's token — one the landing page accepts — and when it changes;
// the next minute brings another token; the page renders the code in its
// first answer under a CSP that allows its own script only; a 分付
// merchant's code carries the mark and the note, others not.
func TestScreenCode(t *testing.T) {
	f, _ := mobileFixture(t)
	m := time.Date(2026, 12, 6, 15, 4, 0, 0, time.UTC)
	clock := &testClock{t: m.Add(15 * time.Second)}
	signer := &dyncode.Signer{Key: screenKey}
	fenfu := false
	f.h.Mobile.Now = clock.now
	f.h.Screen = Screen{Signer: signer, Fenfu: func(_ context.Context, token string) (bool, error) {
		if token != "tok-default-aaaaaaaaaaaaaaaaaa" && token != "tok-extra-bbbbbbbbbbbbbbbbbbbb" {
			t.Errorf("fenfu asked for %q", token)
		}
		return fenfu, nil
	}}
	s := f.login("manager-a")
	sc := screenAnswer(t, f.as(s, get("/m/api/screen")))
	u, err := url.Parse(sc.URL)
	if err != nil || u.Path != "/c/tok-default-aaaaaaaaaaaaaaaaaa" || !strings.HasPrefix(sc.URL, f.h.PublicBaseURL+"/c/") {
		t.Fatalf("url %q", sc.URL)
	}
	d := u.Query().Get(dyncode.Param)
	if err := signer.Verify("tok-default-aaaaaaaaaaaaaaaaaa", d, m.Add(time.Minute+59*time.Second)); err != nil {
		t.Fatalf("the token at m+1: %v", err)
	}
	if err := signer.Verify("tok-default-aaaaaaaaaaaaaaaaaa", d, m.Add(2*time.Minute)); err == nil {
		t.Fatal("the token still pays at m+2")
	}
	if sc.RefreshInMs != 45_000 || sc.NextChange != "2026-12-06T15:05:00Z" {
		t.Fatalf("refresh in %d ms at %s, want 45000 at 15:05:00", sc.RefreshInMs, sc.NextChange)
	}
	want, _ := qrprint.Symbol(sc.URL, "qr")
	if sc.SVG != string(want) || sc.Fenfu || sc.Note != "" || strings.Contains(sc.SVG, qrprint.FenfuBlue) {
		t.Fatalf("a merchant without 分付: fenfu %v note %q, svg is the plain symbol: %v", sc.Fenfu, sc.Note, sc.SVG == string(want))
	}
	clock.set(m.Add(time.Minute))
	next := screenAnswer(t, f.as(s, get("/m/api/screen")))
	if next.URL == sc.URL || next.RefreshInMs != 60_000 {
		t.Fatalf("the next minute: %q (%d ms), before %q", next.URL, next.RefreshInMs, sc.URL)
	}
	// Another of the caller's codes; one that is not the caller's.
	ex := screenAnswer(t, f.as(s, get("/m/api/screen?code=mc-extra")))
	if !strings.Contains(ex.URL, "/c/tok-extra-bbbbbbbbbbbbbbbbbbbb?d=") {
		t.Fatalf("extra code: %q", ex.URL)
	}
	if r := f.as(s, get("/m/api/screen?code=mc-other")); r.StatusCode != http.StatusNotFound {
		t.Fatalf("another's code: %d", r.StatusCode)
	}

	fenfu = true
	sc = screenAnswer(t, f.as(s, get("/m/api/screen")))
	if !sc.Fenfu || sc.Note != qrprint.FenfuNote || !strings.Contains(sc.SVG, qrprint.FenfuBlue) || !strings.Contains(sc.SVG, ">分</text>") {
		t.Fatalf("a 分付 merchant: fenfu %v note %q mark %v", sc.Fenfu, sc.Note, strings.Contains(sc.SVG, qrprint.FenfuBlue))
	}

	// The page: the code in the first answer, its script by hash.
	r := f.as(s, get("/m/screen?code=mc-extra"))
	if r.StatusCode != http.StatusOK {
		t.Fatalf("screen page: %d %s", r.StatusCode, r.Body)
	}
	csp := r.Headers["Content-Security-Policy"]
	if !strings.Contains(csp, "script-src "+hashSource(screenJS)+";") || strings.Contains(csp, "unsafe") || r.Headers["Cache-Control"] != "no-store" {
		t.Fatalf("headers %v", r.Headers)
	}
	if i, j := strings.Index(r.Body, "<script>"), strings.Index(r.Body, "</script>"); i < 0 || j < i || r.Body[i+len("<script>"):j] != screenJS {
		t.Error("the page's script is not the one its CSP hash allows")
	}
	for _, want := range []string{`data-api="/m/api/screen?code=mc-extra"`, `/c/tok-extra-bbbbbbbbbbbbbbbbbbbb?d=`, qrprint.FenfuNote, "秒后更新", "&lt;b&gt;老客户&lt;/b&gt;"} {
		if !strings.Contains(r.Body, want) {
			t.Errorf("screen page lacks %q", want)
		}
	}
	if strings.Contains(r.Body, "<b>老客户</b>") {
		t.Error("unescaped code name")
	}

	// Staff without own codes; a deployment without the key.
	if r := f.as(f.login("cashier-a"), get("/m/api/screen")); r.StatusCode == http.StatusOK {
		t.Fatalf("cashier: %d", r.StatusCode)
	}
	f.h.Screen.Signer = nil
	if r := f.as(s, get("/m/api/screen")); r.StatusCode != http.StatusNotImplemented {
		t.Fatalf("no key: %d", r.StatusCode)
	}
}

// 动态码 only (F7) in the console: an admin sets a community code to it and
// back (audited, the code's page says so); rotating keeps it; another
// company's admin cannot. The counter display shows the community's code
// with its minute token to staff of the company only.
func TestConsoleDynamicOnlyAndCounterScreen(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	clock := &testClock{t: time.Date(2026, 12, 6, 15, 4, 10, 0, time.UTC)}
	f.h.Mobile.Now = clock.now
	signer := &dyncode.Signer{Key: screenKey}
	f.h.Screen = Screen{Signer: signer}
	admin, other := f.login("admin-a"), f.login("admin-b")
	if r := f.as(other, post("/admin/codes/"+codeA+"/dynamic-only", "on", "1")); r.StatusCode != http.StatusNotFound {
		t.Fatalf("another company's admin: %d", r.StatusCode)
	}
	if r := f.as(admin, post("/admin/codes/"+codeA+"/dynamic-only", "on", "1")); r.StatusCode != http.StatusFound {
		t.Fatalf("set: %d %s", r.StatusCode, r.Body)
	}
	code, err := f.h.Store.GetCode(ctx, codeA)
	if err != nil || !code.DynamicOnly {
		t.Fatalf("after set: %+v %v", code, err)
	}
	if r := f.as(admin, get("/admin/communities/"+cmA)); !strings.Contains(r.Body, "仅动态码</span>") || !strings.Contains(r.Body, "允许印刷码") {
		t.Error("the community page does not show 仅动态码")
	}
	// The counter display: this minute's token of this code.
	r := f.as(admin, get("/admin/api/codes/"+codeA+"/screen"))
	sc := screenAnswer(t, r)
	u, _ := url.Parse(sc.URL)
	if u.Path != "/c/"+codeA || signer.Verify(codeA, u.Query().Get("d"), clock.now()) != nil {
		t.Fatalf("counter display url %q", sc.URL)
	}
	if r := f.as(admin, get("/admin/codes/"+codeA+"/screen")); r.StatusCode != http.StatusOK || !strings.Contains(r.Body, `data-api="/admin/api/codes/`+codeA+`/screen"`) {
		t.Fatalf("counter page: %d", r.StatusCode)
	}
	if r := f.as(other, get("/admin/api/codes/"+codeA+"/screen")); r.StatusCode != http.StatusNotFound {
		t.Fatalf("another company's counter display: %d", r.StatusCode)
	}
	// Rotating keeps the setting.
	if r := f.as(admin, post("/admin/codes/"+codeA+"/rotate")); r.StatusCode != http.StatusFound {
		t.Fatalf("rotate: %d", r.StatusCode)
	}
	codes, err := f.h.Store.ListCodes(ctx, cmA)
	if err != nil {
		t.Fatal(err)
	}
	var rotated bool
	for _, cd := range codes {
		if cd.Status == "active" && cd.Token != codeA {
			rotated = cd.DynamicOnly
			if r := f.as(admin, post("/admin/codes/"+cd.Token+"/dynamic-only", "on", "0")); r.StatusCode != http.StatusFound {
				t.Fatalf("unset: %d", r.StatusCode)
			}
			if after, _ := f.h.Store.GetCode(ctx, cd.Token); after.DynamicOnly {
				t.Fatal("still 动态码 only after unset")
			}
		}
	}
	if !rotated {
		t.Fatal("the rotated code lost 动态码 only")
	}
}
