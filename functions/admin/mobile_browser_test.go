package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/estatepay/estatepay/infra/local/gateway"
	"github.com/estatepay/estatepay/infra/qrscan"
	"github.com/estatepay/estatepay/shared/domain/notification"
	"github.com/estatepay/estatepay/shared/web"
)

// The managers' app's pages and script in headless Chromium at 390×844,
// against the /m/api contract answered by a fake in this test (the codes and
// records API is another part's; infra/e2e runs the same pages against the
// real one on the local stack): the code from the first answer decodes to
// its URL, 刷新 after the confirmation, 切换, 诊断 both ways, 收款记录 scrolled
// to its end, searched, cut off by 日期 and opened, 设置 switched.

// fakeMobileAPI answers the codes and records API as the contract says.
type fakeMobileAPI struct {
	mu         sync.Mutex
	base       string // the public base URL of the codes
	generation int
	refreshed  []string // previous URLs, refreshed
	extraGone  bool     // the extra code's payment page answers 410
	records    []map[string]any
	queries    []string // the records queries asked, "q|before|cursor"
}

func newFakeMobileAPI() *fakeMobileAPI {
	f := &fakeMobileAPI{}
	start := time.Date(2026, 11, 29, 12, 30, 0, 0, time.UTC) // 20:30 in Beijing
	for i := 0; i < 40; i++ {
		r := map[string]any{
			"id": fmt.Sprintf("EP%026d", 40-i), "created_at": start.Add(-time.Duration(i) * 5 * time.Hour).Format(time.RFC3339),
			"amount_fen": int64(100*(i+1) + 23), "channel": []string{"wechat", "alipay"}[i%2], "status": "PAID",
			"payer_fields": map[string]string{"company": fmt.Sprintf("客户%02d", i), "contract": fmt.Sprintf("HT-%02d", i)}, "refunded_fen": int64(0),
		}
		if i == 2 {
			r["status"], r["refunded_fen"] = "REFUNDED", r["amount_fen"]
		}
		if i == 3 {
			r["refunded_fen"] = int64(100)
		}
		f.records = append(f.records, r)
	}
	return f
}

func (f *fakeMobileAPI) codeURL(id string) string {
	if id == "mc-extra" && f.extraGone {
		return f.base + "/c/tok-extra-gone-ccccccccccccccc"
	}
	if id == "mc-extra" {
		return f.base + "/c/tok-extra-cccccccccccccccccccc"
	}
	return fmt.Sprintf("%s/c/tok-default-%020d", f.base, f.generation)
}

func (f *fakeMobileAPI) code(id string) map[string]any {
	c := map[string]any{"id": "mc-default", "name": "我的收款码", "kind": "personal", "preset": map[string]string{}}
	if id == "mc-extra" {
		c = map[string]any{"id": "mc-extra", "name": "星光贸易", "kind": "extra", "preset": map[string]string{"company": "星光贸易有限公司", "contract": "HT-2026-001"}}
	}
	return map[string]any{"url": f.codeURL(id), "expires_at": nil, "code": c,
		"payer_fields": []map[string]any{{"key": "company", "label": "公司名称", "type": "text", "required": true}, {"key": "contract", "label": "合同号", "type": "text"}}}
}

// install puts the fake's routes in place of any real ones for the test.
func (f *fakeMobileAPI) install(t *testing.T) {
	saved := routes
	t.Cleanup(func() { routes = saved })
	var kept []route
	for _, rt := range saved {
		if !strings.HasPrefix(rt.pattern, "/m/api/code") && !strings.HasPrefix(rt.pattern, "/m/api/records") {
			kept = append(kept, rt)
		}
	}
	routes = kept
	register(
		route{method: "GET", pattern: "/m/api/code", action: actSignedIn, handle: func(_ *Handler, _ context.Context, c *call) web.Response {
			f.mu.Lock()
			defer f.mu.Unlock()
			id := c.req.QueryStringParameters["code"]
			if id != "" && id != "mc-default" && id != "mc-extra" {
				return web.Error(http.StatusNotFound, "not_found", "收款码不存在")
			}
			return web.JSON(http.StatusOK, f.code(id))
		}},
		route{method: "POST", pattern: "/m/api/code/refresh", action: actSignedIn, handle: func(_ *Handler, _ context.Context, c *call) web.Response {
			f.mu.Lock()
			defer f.mu.Unlock()
			var in struct{ Code string }
			if err := json.Unmarshal(c.body, &in); err != nil || in.Code != "mc-default" {
				return web.Error(http.StatusBadRequest, "invalid", fmt.Sprintf("refresh of %q (%v)", in.Code, err))
			}
			prev := f.codeURL("")
			f.refreshed = append(f.refreshed, prev)
			f.generation++
			out := f.code("")
			out["previous"] = map[string]any{"url": prev, "expires_at": "2026-11-29T23:30:00+08:00"}
			return web.JSON(http.StatusOK, out)
		}},
		route{method: "GET", pattern: "/m/api/codes", action: actSignedIn, handle: func(_ *Handler, _ context.Context, c *call) web.Response {
			f.mu.Lock()
			defer f.mu.Unlock()
			var codes []map[string]any
			for _, id := range []string{"", "mc-extra"} {
				c := f.code(id)
				info := c["code"].(map[string]any)
				codes = append(codes, map[string]any{"id": info["id"], "name": info["name"], "url": c["url"], "kind": info["kind"], "preset": info["preset"]})
			}
			return web.JSON(http.StatusOK, map[string]any{"codes": codes})
		}},
		route{method: "GET", pattern: "/m/api/records", action: actSignedIn, handle: func(_ *Handler, _ context.Context, c *call) web.Response {
			f.mu.Lock()
			defer f.mu.Unlock()
			q := c.req.QueryStringParameters
			f.queries = append(f.queries, q["q"]+"|"+q["before"]+"|"+q["cursor"])
			var match []map[string]any
			for _, r := range f.records {
				day := time.Time{}
				if at, err := time.Parse(time.RFC3339, r["created_at"].(string)); err == nil {
					day = at.Add(8 * time.Hour)
				}
				if q["before"] != "" && day.Format("2006-01-02") > q["before"] {
					continue
				}
				b, _ := json.Marshal(r)
				if q["q"] != "" && !strings.Contains(string(b), q["q"]) {
					continue
				}
				match = append(match, r)
			}
			from, _ := strconv.Atoi(q["cursor"])
			to := min(from+15, len(match))
			var next any
			if to < len(match) {
				next = strconv.Itoa(to)
			}
			return web.JSON(http.StatusOK, map[string]any{"records": match[min(from, len(match)):to], "next": next})
		}},
		route{method: "GET", pattern: "/m/api/records/{id}", action: actSignedIn, handle: func(_ *Handler, _ context.Context, c *call) web.Response {
			f.mu.Lock()
			defer f.mu.Unlock()
			for i, r := range f.records {
				if r["id"] == c.params["id"] {
					out := map[string]any{}
					for k, v := range r {
						out[k] = v
					}
					out["refunds"] = []map[string]any{}
					out["fields"] = []map[string]string{{"key": "company", "label": "公司名称", "value": r["payer_fields"].(map[string]string)["company"]},
						{"key": "contract", "label": "合同号", "value": r["payer_fields"].(map[string]string)["contract"]}}
					if i == 3 {
						out["refunds"] = []map[string]any{{"id": "rf1", "amount_fen": 100, "status": "SUCCEEDED", "reason": "多收", "created_at": "2026-11-29T10:00:00+08:00", "succeeded_at": "2026-11-29T10:01:00+08:00"}}
					}
					return web.JSON(http.StatusOK, out)
				}
			}
			return web.Error(http.StatusNotFound, "not_found", "记录不存在")
		}},
	)
}

// mobileServer serves the handler behind the local gateway (payload 2.0, as
// API Gateway sends it) with /c/{token} answered by a stand-in payment page
// (410 for a token with "gone" in it).
func mobileServer(t *testing.T, h *Handler) *httptest.Server {
	inv := gateway.InvokerFunc(func(ctx context.Context, fn string, payload []byte) ([]byte, error) {
		var req web.Request
		if err := json.Unmarshal(payload, &req); err != nil {
			return nil, err
		}
		var resp web.Response
		switch fn {
		case "Admin":
			var err error
			if resp, err = h.Handle(ctx, req); err != nil {
				return nil, err
			}
		default:
			resp = web.Text(http.StatusOK, "<!doctype html><html><body>付款页面</body></html>")
			resp.Headers["Content-Type"] = "text/html; charset=utf-8"
			if strings.Contains(req.PathParameters["token"], "gone") {
				resp.StatusCode = http.StatusGone
			}
		}
		return json.Marshal(resp)
	})
	gw, err := gateway.New([]gateway.Route{{Method: "ANY", Path: "/m", Function: "Admin"}, {Method: "ANY", Path: "/m/{proxy+}", Function: "Admin"},
		{Method: "GET", Path: "/c/{token}", Function: "Landing"}}, inv, gateway.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gw)
	t.Cleanup(srv.Close)
	return srv
}

// phoneBrowser starts headless Chromium (a missing browser fails: make
// test installs it with .ci/install-browser) and opens a 390×844 tab.
func phoneBrowser(t *testing.T) context.Context {
	t.Helper()
	path := os.Getenv("CHROME_PATH")
	if path == "" {
		path = "/usr/bin/chromium"
	}
	if _, err := exec.LookPath(path); err != nil {
		t.Fatalf("no browser at %s (run .ci/install-browser, or set CHROME_PATH): %v", path, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.Flag("disable-background-networking", true), chromedp.UserDataDir(t.TempDir()))
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	bctx, bcancel := chromedp.NewContext(actx)
	t.Cleanup(func() { bcancel(); acancel(); cancel() })
	if _, err := chromedp.Call(bctx, emulation.SetUserAgentOverride, emulation.SetUserAgentOverrideParams{
		UserAgent: "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36"}); err != nil {
		t.Fatalf("start %s: %v", path, err)
	}
	if err := chromedp.Do(bctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile, chromedp.EmulateTouch)); err != nil {
		t.Fatal(err)
	}
	return bctx
}

// bstep runs browser steps, failing with the page's text.
func bstep(t *testing.T, tab context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, 15*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v\n%s", what, err, bpage(tab))
	}
}

func bval[T any](t *testing.T, tab context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, 15*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("%s: %v\n%s", what, err, bpage(tab))
	}
	return v
}

func bpage(tab context.Context) string {
	ctx, cancel := context.WithTimeout(tab, 3*time.Second)
	defer cancel()
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	text, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	return "page " + loc + ":\n" + text
}

// bwait polls a JavaScript condition until it holds (across navigations:
// an evaluation in a page that is going away is tried again).
func bwait(t *testing.T, tab context.Context, what, cond string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	var last error
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(tab, 2*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](cond))
		cancel()
		if err == nil && ok {
			return
		}
		last = err
		bstep(t, tab, "pause", chromedp.Sleep(50*time.Millisecond))
	}
	t.Fatalf("waiting for %s (%s): %v\n%s", what, cond, last, bpage(tab))
}

// shots saves the page at 390×844 and 1280×800 into $E2E_SCREENSHOT_DIR
// (when set) as mobile-<name>-390.png and -desktop.png.
func shots(t *testing.T, tab context.Context, name string) {
	t.Helper()
	dir := os.Getenv("E2E_SCREENSHOT_DIR")
	if dir == "" {
		return
	}
	save := func(file string) {
		b := bval(t, tab, "screenshot", chromedp.FullScreenshot(100))
		if err := os.WriteFile(filepath.Join(dir, file), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	save("mobile-" + name + "-390.png")
	bstep(t, tab, "desktop", chromedp.EmulateViewport(1280, 800))
	save("mobile-" + name + "-desktop.png")
	bstep(t, tab, "phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile, chromedp.EmulateTouch))
}

// qrOnScreen decodes the code on the page as a customer's phone would.
func qrOnScreen(t *testing.T, tab context.Context) string {
	t.Helper()
	b := bval(t, tab, "screenshot of the code", chromedp.Screenshot(chromedp.ID("qr")))
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if w := img.Bounds().Dx(); w < 2*260 { // CSS px at scale 2: the code is large
		t.Errorf("the code is %d device pixels wide, want at least 520 (260 CSS px)", w)
	}
	text, err := qrscan.Read(img)
	if err != nil {
		t.Fatalf("the code on screen does not decode: %v", err)
	}
	return text
}

func TestMobilePagesInTheBrowser(t *testing.T) {
	tab := phoneBrowser(t) // first: a missing browser fails before anything else
	f := newFixture(t)
	api := newFakeMobileAPI()
	api.install(t)
	srv := mobileServer(t, f.h)
	f.h.PublicBaseURL, api.base = srv.URL, srv.URL
	base := srv.URL

	// Log in: the app's own page, then home with the code.
	bstep(t, tab, "open the app", chromedp.Navigate(base+"/m"), chromedp.WaitVisible(chromedp.ID("login")))
	shots(t, tab, "login")
	bstep(t, tab, "log in", chromedp.SendKeys(chromedp.ID("phone"), "13800000003"), chromedp.SendKeys(chromedp.ID("password"), "pw-manager-a"),
		chromedp.Click(chromedp.CSS(`#login button[type="submit"]`)), chromedp.WaitVisible(chromedp.ID("qr")))
	if got := qrOnScreen(t, tab); got != api.codeURL("") {
		t.Fatalf("the code says %q, want %s", got, api.codeURL(""))
	}
	shots(t, tab, "home")

	// Tap the code: a confirmation first; 取消 changes nothing, 刷新 refreshes.
	bstep(t, tab, "tap the code", chromedp.Click(chromedp.ID("qr")), chromedp.WaitVisible(chromedp.ID("confirm")))
	shots(t, tab, "refresh-confirm")
	bstep(t, tab, "cancel", chromedp.Click(chromedp.ID("confirm-no")), chromedp.WaitNotVisible(chromedp.ID("confirm")))
	if len(api.refreshed) != 0 {
		t.Fatal("refreshed without confirming")
	}
	bstep(t, tab, "refresh", chromedp.Click(chromedp.ID("qr")), chromedp.WaitVisible(chromedp.ID("confirm-yes")), chromedp.Click(chromedp.ID("confirm-yes")))
	bwait(t, tab, "the refreshed code", `!!document.querySelector(".notice") && document.querySelector(".notice").textContent.indexOf("2026-11-29 23:30:00 失效") > 0`)
	if got := qrOnScreen(t, tab); got != api.codeURL("") || len(api.refreshed) != 1 || got == api.refreshed[0] {
		t.Fatalf("after 刷新 the code says %q (refreshed %v)", got, api.refreshed)
	}
	if loc := bval(t, tab, "location", chromedp.Location()); loc != base+"/m" {
		t.Errorf("after 刷新 the address is %s (the notice stays in it)", loc)
	}

	// 展开 → 切换: the sheet lists the codes; the extra one shows its preset values.
	bstep(t, tab, "展开", chromedp.Click(chromedp.ID("more")), chromedp.WaitVisible(chromedp.ID("actions")))
	shots(t, tab, "home-expanded")
	bstep(t, tab, "切换", chromedp.Click(chromedp.ID("act-switch")), chromedp.WaitVisible(chromedp.CSS("#codes button")))
	shots(t, tab, "switch")
	if n := bval(t, tab, "codes", chromedp.Evaluate[int](`document.querySelectorAll("#codes button").length`)); n != 2 {
		t.Fatalf("%d codes in the sheet", n)
	}
	bstep(t, tab, "pick the extra code", chromedp.Click(chromedp.CSS("#codes li:nth-child(2) button")), chromedp.WaitVisible(chromedp.ID("preset")))
	if got := qrOnScreen(t, tab); got != api.codeURL("mc-extra") {
		t.Fatalf("the extra code says %q", got)
	}
	if txt := bval(t, tab, "preset", chromedp.Text(chromedp.ID("preset"))); !strings.Contains(txt, "星光贸易有限公司") || !strings.Contains(txt, "合同号") {
		t.Fatalf("preset values: %q", txt)
	}
	shots(t, tab, "home-extra")

	// 诊断: both sides open the page; then a code whose page is gone.
	bstep(t, tab, "诊断", chromedp.Click(chromedp.ID("more")), chromedp.Click(chromedp.ID("act-diagnose")), chromedp.WaitVisible(chromedp.ID("diagnose")))
	bwait(t, tab, "the diagnosis", `!document.getElementById("advice").hidden`)
	if out := bval(t, tab, "outcome", chromedp.Evaluate[string](`document.getElementById("advice").getAttribute("data-outcome")`)); out != "server-ok phone-ok" {
		t.Fatalf("diagnosis %q\n%s", out, bpage(tab))
	}
	if txt := bval(t, tab, "advice", chromedp.Text(chromedp.ID("advice"))); txt != diagnoseAdvices["ok"] {
		t.Fatalf("advice %q", txt)
	}
	shots(t, tab, "diagnose")
	api.mu.Lock()
	api.extraGone = true
	api.mu.Unlock()
	bstep(t, tab, "诊断 again", chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("diagnose")))
	bwait(t, tab, "the second diagnosis", `!document.getElementById("advice").hidden && document.getElementById("check-server").getAttribute("data-state") === "fail"`)
	if txt := bval(t, tab, "advice", chromedp.Text(chromedp.ID("advice"))); txt != diagnoseAdvices["invalid"] {
		t.Fatalf("advice for a gone page %q\n%s", txt, bpage(tab))
	}
	if txt := bval(t, tab, "phone", chromedp.Text(chromedp.ID("phone-detail"))); !strings.Contains(txt, "无效或已失效") {
		t.Fatalf("the phone's check of a gone page: %q", txt)
	}
	shots(t, tab, "diagnose-gone")

	// 收款记录: 15, then scrolled to the end (40: 没有更多了).
	bstep(t, tab, "收款记录", chromedp.Click(chromedp.ID("tab-records")), chromedp.WaitVisible(chromedp.CSS("#list li")))
	bwait(t, tab, "the first page", `document.querySelectorAll("#list li").length === 15 && document.getElementById("end").textContent === ""`)
	first := bval(t, tab, "first row", chromedp.Text(chromedp.CSS("#list li:first-child")))
	if !strings.Contains(first, "¥1.23") || !strings.Contains(first, "客户00 · HT-00") || !strings.Contains(first, "11-29 20:30") || !strings.Contains(first, "微信") {
		t.Fatalf("first row %q", first)
	}
	shots(t, tab, "records")
	for i := 0; i < 10; i++ { // each scroll to the bottom loads the next page
		n := bval(t, tab, "rows", chromedp.Evaluate[int](`document.querySelectorAll("#list li").length`))
		if n >= 40 {
			break
		}
		bstep(t, tab, "scroll", chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, document.body.scrollHeight)`))
		bwait(t, tab, "a page more", fmt.Sprintf(`document.querySelectorAll("#list li").length > %d && document.getElementById("end").textContent !== "加载中…"`, n))
	}
	bwait(t, tab, "the end", `document.querySelectorAll("#list li").length === 40 && document.getElementById("end").textContent === "没有更多了"`)
	if got := bval(t, tab, "last row", chromedp.Text(chromedp.CSS("#list li:last-child"))); !strings.Contains(got, "客户39") {
		t.Fatalf("last row %q", got)
	}
	shots(t, tab, "records-end")

	// Search, then 日期: straight to the records on or before it.
	bstep(t, tab, "search", chromedp.SendKeys(chromedp.ID("q"), "客户07\n"))
	bwait(t, tab, "the search", `document.querySelectorAll("#list li").length === 1 && document.getElementById("end").textContent === "没有更多了"`)
	bstep(t, tab, "clear the search", chromedp.Evaluate[chromedp.Void](`(function(){var q=document.getElementById("q");q.value="";q.form.requestSubmit();})()`))
	bwait(t, tab, "all again", `document.querySelectorAll("#list li").length === 15`)
	api.mu.Lock()
	asked := len(api.queries)
	api.mu.Unlock()
	bstep(t, tab, "日期", chromedp.Evaluate[chromedp.Void](`(function(){var d=document.getElementById("before");d.value="2026-11-25";d.dispatchEvent(new Event("change"));})()`))
	bwait(t, tab, "the cut-off", `!document.getElementById("cutoff").hidden && document.querySelectorAll("#list li").length > 0 && document.querySelector("#list li .when").textContent.indexOf("11-25") === 0`)
	shots(t, tab, "records-cutoff")
	api.mu.Lock()
	cut := api.queries[asked:]
	api.mu.Unlock()
	if len(cut) == 0 || cut[0] != "|2026-11-25|" {
		t.Fatalf("the cut-off asked %q", cut)
	}
	bstep(t, tab, "clear the date", chromedp.Click(chromedp.ID("cutoff-clear")))
	bwait(t, tab, "all again", `document.getElementById("cutoff").hidden && document.querySelectorAll("#list li").length === 15`)

	// A record's details over the list; Back closes them and the list stays.
	bstep(t, tab, "open a record", chromedp.Click(chromedp.CSS("#list li:nth-child(4) button")), chromedp.WaitVisible(chromedp.ID("detail")))
	bwait(t, tab, "its refunds", `!document.getElementById("d-refunds-box").hidden`)
	detail := bval(t, tab, "detail", chromedp.Text(chromedp.ID("detail")))
	for _, want := range []string{"¥4.23", "部分退款", "2026-11-29 05:30:00（北京时间）", "支付宝", "公司名称", "客户03", "合同号", "¥1.00", "已退款", "多收", api.records[3]["id"].(string)} {
		if !strings.Contains(detail, want) {
			t.Errorf("detail lacks %q:\n%s", want, detail)
		}
	}
	shots(t, tab, "record")
	bstep(t, tab, "back", chromedp.NavigateBack(), chromedp.WaitNotVisible(chromedp.ID("detail")))
	if n := bval(t, tab, "rows", chromedp.Evaluate[int](`document.querySelectorAll("#list li").length`)); n != 15 {
		t.Fatalf("%d rows after closing the detail", n)
	}

	// 设置: switch the notification on; it is stored and shown after a reload.
	bstep(t, tab, "设置", chromedp.Click(chromedp.ID("tab-settings")), chromedp.WaitVisible(chromedp.ID("notify")))
	shots(t, tab, "settings")
	bstep(t, tab, "switch on", chromedp.Click(chromedp.ID("notify")))
	bwait(t, tab, "saved", `document.getElementById("notify-state").textContent === "已开启收款成功通知"`)
	p, ok, err := f.st.NotificationRepo().Preference(context.Background(), coA, notification.OwnCodes, "manager-a")
	if err != nil || !ok || !p.Payments {
		t.Fatalf("stored %+v %v %v", p, ok, err)
	}
	bstep(t, tab, "reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("notify")))
	if on := bval(t, tab, "switch", chromedp.Evaluate[bool](`document.getElementById("notify").checked`)); !on {
		t.Fatal("the switch is off after a reload")
	}

	// Squeezed out by a login elsewhere: the next page says so.
	f.login("manager-a")
	bstep(t, tab, "back to the code", chromedp.Click(chromedp.ID("tab-code")), chromedp.WaitVisible(chromedp.ID("login")))
	if txt := bval(t, tab, "message", chromedp.Text(chromedp.CSS(".error"))); txt != "您的账号已在其他设备登录" {
		t.Fatalf("squeezed-out message %q", txt)
	}
	shots(t, tab, "squeezed")
}
