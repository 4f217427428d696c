package e2e

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"image/png"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/estatepay/estatepay/infra/local/stack"
	"github.com/estatepay/estatepay/infra/local/stacktest"
	"github.com/estatepay/estatepay/infra/qrscan"
)

// The console, end to end through its real pages in headless Chromium
// (issue 7, "Done when"): the demo admin onboards a community with an
// Alipay interface, prints its code, a resident pays it in the sandbox, and
// the payment shows in the records, the CSV and the dashboard; squeeze-out,
// registration by e-mail and tenancy.

// consoleBudget bounds one console test (its browser and its stack calls).
const consoleBudget = 4 * time.Minute

// consoleBrowser starts a headless Chromium for a console test (a longer
// budget than the resident tests: a console walk-through is many pages).
func consoleBrowser(t *testing.T) context.Context {
	t.Helper()
	path := browserPath(t)
	ctx, cancel := context.WithTimeout(context.Background(), consoleBudget)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	bctx, bcancel := chromedp.NewContext(actx)
	t.Cleanup(func() { bcancel(); acancel(); cancel() })
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("e2e: start %s: %v", path, err)
	}
	return bctx
}

// isolatedTab opens a tab in a browser context of its own (its own
// cookies: another person, or the same person on another device), phone
// sized, with ua when set.
func isolatedTab(t *testing.T, b context.Context, ua string) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("e2e: new browser context: %v", err)
	}
	if ua != "" {
		if _, err := chromedp.Call(ctx, emulation.SetUserAgentOverride, emulation.SetUserAgentOverrideParams{UserAgent: ua}); err != nil {
			t.Fatalf("e2e: set user agent: %v", err)
		}
	}
	do(t, ctx, "phone viewport", phoneViewport)
	return ctx
}

// account is the demo account with role (of the demo company, or of the
// second company when second is set).
func account(t *testing.T, s *stack.Stack, role string, second bool) stack.DemoAccount {
	t.Helper()
	want := stack.DemoCompanyID
	if second {
		want = stack.SecondCompanyID
	}
	for _, a := range s.Description().Demo.Accounts {
		if a.Role == role && a.CompanyID == want {
			return a
		}
	}
	t.Fatalf("e2e: no demo %s account of %s in stack.json demo.accounts", role, want)
	return stack.DemoAccount{}
}

// submit clicks the submit button of the form matching form and waits for
// the page the browser lands on; it returns that page's status.
func submit(t *testing.T, tab context.Context, what, form string) int64 {
	t.Helper()
	sctx, cancel := context.WithTimeout(tab, stepTimeout)
	defer cancel()
	resp, err := chromedp.RunResponse(sctx, chromedp.Click(chromedp.CSS(form+` button[type="submit"]`)))
	if err != nil {
		t.Fatalf("e2e: %s: %v\n%s", what, err, pageState(tab))
	}
	return resp.Status
}

// fill sets form fields (by element id) of the current page.
func fill(t *testing.T, tab context.Context, what string, fields map[string]string) {
	t.Helper()
	steps := make([]chromedp.Action[chromedp.Void], 0, len(fields))
	for id, v := range fields {
		steps = append(steps, chromedp.SetValue(chromedp.ID(id), v))
	}
	do(t, tab, what, steps...)
}

// open navigates to u and returns the page's status.
func open(t *testing.T, tab context.Context, u string) int64 {
	t.Helper()
	sctx, cancel := context.WithTimeout(tab, stepTimeout)
	defer cancel()
	resp, err := chromedp.Run(sctx, chromedp.NavigateResponse(u))
	if err != nil {
		t.Fatalf("e2e: open %s: %v\n%s", u, err, pageState(tab))
	}
	return resp.Status
}

// bodyText is the visible text of the page.
func bodyText(t *testing.T, tab context.Context) string {
	t.Helper()
	return run(t, tab, "page text", chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
}

// pagePath is the path (and query) of the tab's URL.
func pagePath(t *testing.T, tab context.Context) string {
	t.Helper()
	loc := run(t, tab, "location", chromedp.Location())
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatal(err)
	}
	return u.RequestURI()
}

// signIn logs in through the console's login page and checks where it
// lands (a path prefix).
func signIn(t *testing.T, s *stack.Stack, tab context.Context, phone, password, lands string) {
	t.Helper()
	if st := open(t, tab, s.URLs.Gateway+"/admin/login"); st != http.StatusOK {
		t.Fatalf("e2e: login page answered %d", st)
	}
	fill(t, tab, "login form", map[string]string{"phone": phone, "password": password})
	if st := submit(t, tab, "log in as "+phone, `form[action="/admin/login"]`); st != http.StatusOK {
		t.Fatalf("e2e: logging in as %s answered %d\n%s", phone, st, pageState(tab))
	}
	if p := pagePath(t, tab); !strings.HasPrefix(p, lands) {
		t.Fatalf("e2e: logged in as %s, landed on %s, want %s…\n%s", phone, p, lands, pageState(tab))
	}
}

// sessionClient is an HTTP client carrying the tab's console session (its
// ep_session cookie, read through DevTools: it is HttpOnly): what a person
// downloads or a script calls while signed in in that browser, without a
// second login (which would end the browser's session).
func sessionClient(t *testing.T, tab context.Context, s *stack.Stack) *http.Client {
	t.Helper()
	res, err := chromedp.Call(tab, network.GetCookies, network.GetCookiesParams{URLs: []string{s.URLs.Gateway + "/admin/"}})
	if err != nil {
		t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	u, _ := url.Parse(s.URLs.Gateway + "/admin/")
	var found bool
	for _, c := range res.Cookies {
		if c.Name == "ep_session" {
			found = true
			if !c.HTTPOnly || c.SameSite != network.CookieSameSiteLax || c.Path != "/admin" {
				t.Errorf("ep_session cookie: HttpOnly %v SameSite %q Path %q; want HttpOnly, Lax, /admin", c.HTTPOnly, c.SameSite, c.Path)
			}
		}
		jar.SetCookies(u, []*http.Cookie{{Name: c.Name, Value: c.Value, Path: c.Path}})
	}
	if !found {
		t.Fatal("e2e: the browser holds no ep_session cookie")
	}
	return &http.Client{Jar: jar, Timeout: 30 * time.Second}
}

// apiSession is a script's console session: POST /admin/api/session in a
// cookie jar of its own.
type apiSession struct {
	c    *http.Client
	base string
	csrf string
}

func apiLogin(t *testing.T, s *stack.Stack, phone, password string) *apiSession {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	a := &apiSession{c: &http.Client{Jar: jar, Timeout: 30 * time.Second}, base: s.URLs.Gateway}
	body, _ := json.Marshal(map[string]string{"phone": phone, "password": password})
	st, raw := a.do(t, http.MethodPost, "/admin/api/session", "application/json", bytes.NewReader(body))
	if st != http.StatusOK {
		t.Fatalf("e2e: POST /admin/api/session as %s: %d %s", phone, st, raw)
	}
	var out struct {
		CSRF  string `json:"csrf_token"`
		Staff struct {
			Phone string `json:"phone"`
		} `json:"staff"`
	}
	if err := json.Unmarshal(raw, &out); err != nil || out.CSRF == "" || out.Staff.Phone != phone {
		t.Fatalf("e2e: login answer %s (%v)", raw, err)
	}
	a.csrf = out.CSRF
	return a
}

// do sends a request (with the CSRF token on state changes) and returns
// the status and body.
func (a *apiSession) do(t *testing.T, method, path, ctype string, body io.Reader) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, a.base+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if method != http.MethodGet && a.csrf != "" {
		req.Header.Set("X-CSRF-Token", a.csrf)
	}
	resp, err := a.c.Do(req)
	if err != nil {
		t.Fatalf("e2e: %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, raw
}

func (a *apiSession) get(t *testing.T, path string) (int, []byte) {
	t.Helper()
	return a.do(t, http.MethodGet, path, "", nil)
}

// getWith GETs path with client c and returns status, headers and body.
func getWith(t *testing.T, c *http.Client, u string) (int, http.Header, []byte) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatalf("e2e: GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, raw
}

// consoleShots saves the page at 390×844 and 1280×800 as
// console-<name>-390.png and console-<name>-1280.png (see saveScreenshot:
// also into $E2E_SCREENSHOT_DIR when set), leaving the tab at phone size.
func consoleShots(t *testing.T, tab context.Context, name string) {
	t.Helper()
	dir := t.TempDir()
	name = "console-" + name
	saveScreenshot(t, tab, dir, name+"-390.png")
	do(t, tab, "desktop viewport", desktopViewport)
	saveScreenshot(t, tab, dir, name+"-1280.png")
	do(t, tab, "phone viewport", phoneViewport)
}

// pemFile reads a PEM file the stack describes in stack.json.
func pemFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil || !bytes.Contains(b, []byte("-----BEGIN ")) {
		t.Fatalf("e2e: key file %s: %v", path, err)
	}
	return string(b)
}

// dashboardFigures is the part of GET /admin/api/dashboard the tests read:
// today's figures of one community.
type dashboardFigures struct {
	Count     int64
	AmountFen int64
	Alipay    int64 // today's Alipay amount, fen
}

func dashboardToday(t *testing.T, c *http.Client, s *stack.Stack, community string) (dashboardFigures, bool) {
	t.Helper()
	type figures struct {
		Count     int64 `json:"count"`
		AmountFen int64 `json:"amount_fen"`
	}
	type totals struct {
		All       figures            `json:"all"`
		ByChannel map[string]figures `json:"by_channel"`
	}
	var d struct {
		CompanyID   string `json:"company_id"`
		Communities []struct {
			ID       string `json:"id"`
			Today    totals `json:"today"`
			LastDays totals `json:"last_30_days"`
		} `json:"communities"`
	}
	st, _, raw := getWith(t, c, s.URLs.Gateway+"/admin/api/dashboard")
	if st != http.StatusOK {
		t.Fatalf("e2e: GET /admin/api/dashboard: %d %s", st, raw)
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("e2e: dashboard JSON: %v: %s", err, raw)
	}
	if d.CompanyID != stack.DemoCompanyID {
		t.Fatalf("e2e: dashboard of company %q, want %s", d.CompanyID, stack.DemoCompanyID)
	}
	for _, cm := range d.Communities {
		if cm.ID == community {
			return dashboardFigures{Count: cm.Today.All.Count, AmountFen: cm.Today.All.AmountFen, Alipay: cm.Today.ByChannel["alipay"].AmountFen}, true
		}
	}
	return dashboardFigures{}, false
}

// pngDPI reads the pixels per metre of a PNG's pHYs chunk (0 when absent).
func pngDPI(b []byte) uint32 {
	if len(b) < 8 {
		return 0
	}
	for p := 8; p+12 <= len(b); {
		n := int(binary.BigEndian.Uint32(b[p:]))
		typ := string(b[p+4 : p+8])
		if typ == "pHYs" && n == 9 && p+8+9 <= len(b) && b[p+16] == 1 {
			return binary.BigEndian.Uint32(b[p+8:])
		}
		p += 12 + n
	}
	return 0
}

// decodeQR decodes the QR code in a PNG.
func decodeQR(t *testing.T, b []byte) (string, int) {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("e2e: the downloaded code is not a PNG: %v", err)
	}
	text, err := qrscan.Read(img)
	if err != nil {
		t.Fatalf("e2e: no QR code readable in the downloaded PNG: %v", err)
	}
	return text, img.Bounds().Dx()
}

var (
	communityPathRE = regexp.MustCompile(`^/admin/communities/(cm-[a-z2-7]+)\?done=created$`)
	ifacePathRE     = regexp.MustCompile(`^/admin/interfaces/(if-[a-z2-7]+)\?done=created$`)
)

// TestConsoleOnboardPayRecords is the "Done when" walk-through: the
// demo admin logs in, creates a community, creates an Alipay interface for
// the company (keys entered once: the sandbox app's), moves it to 申请成功
// and makes it the company's Alipay interface, opens the community's code,
// downloads the PNG and reads it back to the code URL, opens the A4
// poster; a resident pays the code with Alipay; the admin sees the payment
// in the records (JSON, CSV) and the dashboard move.
func TestConsoleOnboardPayRecords(t *testing.T) {
	b := consoleBrowser(t) // first: a missing browser fails before the stack starts
	s := stacktest.Start(t)
	desc := s.Description()
	admin := account(t, s, "admin", false)
	tab := isolatedTab(t, b, "")

	// Log in.
	open(t, tab, s.URLs.Gateway+"/admin/communities")
	if p := pagePath(t, tab); p != "/admin/login?next=%2Fadmin%2Fcommunities" {
		t.Fatalf("signed out, /admin/communities went to %s, want the login page keeping where it was going", p)
	}
	consoleShots(t, tab, "login")
	fill(t, tab, "login form", map[string]string{"phone": admin.Phone, "password": admin.Password})
	if st := submit(t, tab, "log in", `form[action="/admin/login"]`); st != http.StatusOK || pagePath(t, tab) != "/admin/communities" {
		t.Fatalf("logging in landed on %s (%d)\n%s", pagePath(t, tab), st, pageState(tab))
	}
	if txt := bodyText(t, tab); !strings.Contains(txt, admin.Name) || !strings.Contains(txt, "阳光花园") {
		t.Fatalf("the communities page does not show the admin's name and the demo communities:\n%s", txt)
	}

	// Create a community: it comes with its code.
	name := "滨江花园" + fmt.Sprint(time.Now().UnixNano()%1000)
	fill(t, tab, "new community", map[string]string{"name": name})
	submit(t, tab, "create the community", `form[action="/admin/communities"]`)
	m := communityPathRE.FindStringSubmatch(pagePath(t, tab))
	if m == nil {
		t.Fatalf("creating a community landed on %s\n%s", pagePath(t, tab), pageState(tab))
	}
	cid := m[1]
	if txt := bodyText(t, tab); !strings.Contains(txt, "已创建") || !strings.Contains(txt, name) || !strings.Contains(txt, "使用中") {
		t.Fatalf("the new community's page:\n%s", txt)
	}

	// An Alipay interface for the company: app id and seller id, then the
	// keys (the sandbox app's, from stack.json), entered once.
	open(t, tab, s.URLs.Gateway+"/admin/interfaces/new?channel=alipay")
	alipay := desc.Sandbox.Alipay
	fill(t, tab, "alipay interface", map[string]string{"mode": "app", "f-app_id": fmt.Sprint(alipay["app_id"]), "f-seller_id": fmt.Sprint(alipay["seller_id"])})
	submit(t, tab, "create the interface", `form[action="/admin/interfaces"]`)
	m = ifacePathRE.FindStringSubmatch(pagePath(t, tab))
	if m == nil {
		t.Fatalf("creating the interface landed on %s\n%s", pagePath(t, tab), pageState(tab))
	}
	iid := m[1]
	if txt := bodyText(t, tab); !strings.Contains(txt, "当前状态：申请中") || !strings.Contains(txt, "未设置") {
		t.Fatalf("the new interface's page:\n%s", txt)
	}
	// 申请成功 needs the keys first.
	do(t, tab, "choose 申请成功", chromedp.SetValue(chromedp.CSS(`select[name="status"]`), "approved"))
	submit(t, tab, "approve without keys", `form[action$="/status"]`)
	if txt := bodyText(t, tab); !strings.Contains(txt, "请先录入密钥") {
		t.Fatalf("approving an interface without keys:\n%s", txt)
	}
	appKey := pemFile(t, fmt.Sprint(alipay["app_private_key"]))
	alipayPub := pemFile(t, filepath.Join(desc.Sandbox.KeysDir, "alipay-platform-public.pem"))
	open(t, tab, s.URLs.Gateway+"/admin/interfaces/"+iid)
	fill(t, tab, "keys", map[string]string{"s-app_private_key": appKey, "s-alipay_public_key": alipayPub})
	submit(t, tab, "save the keys", `form[action$="/secret"]`)
	html := run(t, tab, "interface page", chromedp.OuterHTML(chromedp.CSS("html")))
	if !strings.Contains(html, "密钥已保存") || strings.Contains(html, "BEGIN") || strings.Contains(html, strings.Split(appKey, "\n")[1]) {
		t.Fatalf("after saving the keys the page must say so and show no key material:\n%s", bodyText(t, tab))
	}
	fp := run(t, tab, "fingerprint", chromedp.Text(chromedp.CSS("dl.kv dd")))
	if strings.Contains(fp, "未设置") || len(strings.TrimSpace(fp)) < 8 {
		t.Fatalf("key fingerprint shown: %q", fp)
	}
	// The status flow: 申请中 → 支付宝授权待确认 → 申请成功.
	for _, st := range []struct{ value, label string }{{"auth_pending", "支付宝授权待确认"}, {"approved", "申请成功"}} {
		do(t, tab, "choose "+st.label, chromedp.SetValue(chromedp.CSS(`select[name="status"]`), st.value))
		submit(t, tab, "move to "+st.label, `form[action$="/status"]`)
		if txt := bodyText(t, tab); !strings.Contains(txt, "状态已更新") || !strings.Contains(txt, "当前状态："+st.label) {
			t.Fatalf("after moving to %s:\n%s", st.label, txt)
		}
	}
	// The demo company already has an Alipay interface: make this one the
	// company's (C2 reads the company's).
	submit(t, tab, "set as the company's Alipay interface", `form[action$="/company-alipay"]`)
	if txt := bodyText(t, tab); !strings.Contains(txt, "公司支付宝接口") || strings.Contains(txt, "设为公司支付宝接口") {
		t.Fatalf("after 设为公司支付宝接口:\n%s", txt)
	}
	consoleShots(t, tab, "interface")

	// The community now takes Alipay; its code page, the PNG and the poster.
	open(t, tab, s.URLs.Gateway+"/admin/communities/"+cid)
	apps := run(t, tab, "apps", chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("p.sub .tag.ok")).map(e => e.textContent)`))
	if len(apps) != 1 || apps[0] != "支付宝" || !strings.Contains(bodyText(t, tab), "支付宝 · 自研应用 · "+fmt.Sprint(alipay["seller_id"])+"（申请成功）") {
		t.Fatalf("the community's page after onboarding (apps %q):\n%s", apps, bodyText(t, tab))
	}
	consoleShots(t, tab, "community")
	codeLinks := run(t, tab, "code links", chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('a[href^="/admin/codes/"]')).map(a => a.getAttribute("href")).filter(h => !h.endsWith("/payer-fields"))`))
	if len(codeLinks) != 1 {
		t.Fatalf("the new community lists code links %v, want its one code", codeLinks)
	}
	token := strings.TrimPrefix(codeLinks[0], "/admin/codes/")
	codeURL := s.URLs.Gateway + "/c/" + token
	open(t, tab, s.URLs.Gateway+codeLinks[0])
	if txt := bodyText(t, tab); !strings.Contains(txt, name) || !strings.Contains(txt, codeURL) || !strings.Contains(txt, "示例物业服务有限公司") {
		t.Fatalf("the code page does not name the community, the company and the URL %s:\n%s", codeURL, txt)
	}
	if n := run(t, tab, "QR on the page", chromedp.Evaluate[int](`document.querySelectorAll(".qr svg").length`)); n != 1 {
		t.Fatalf("the code page shows %d QR symbols, want 1", n)
	}
	consoleShots(t, tab, "code")

	// Download the PNG as a person does: the link, into a download folder.
	downloads := t.TempDir()
	if _, err := chromedp.CallBrowser(tab, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: downloads, BrowserContextID: chromedp.FromContext(tab).BrowserContextID,
	}); err != nil {
		t.Fatalf("e2e: download folder: %v", err)
	}
	do(t, tab, "click 下载 PNG", chromedp.Click(chromedp.CSS(`a.btn[href*="/code.png"]`)))
	// Chromium may show the file under its final name while still writing
	// it: the download is there when the whole PNG decodes.
	var pngBytes []byte
	eventually(t, tab, 20*time.Second, "the downloaded PNG", func() (bool, string) {
		es, _ := os.ReadDir(downloads)
		var names []string
		for _, e := range es {
			names = append(names, e.Name())
			if strings.HasSuffix(e.Name(), ".png") {
				b, err := os.ReadFile(filepath.Join(downloads, e.Name()))
				if _, derr := png.Decode(bytes.NewReader(b)); err == nil && derr == nil {
					pngBytes = b
					return true, ""
				}
			}
		}
		return false, strings.Join(names, ",")
	})
	got, width := decodeQR(t, pngBytes)
	if got != codeURL {
		t.Fatalf("the downloaded PNG decodes to %q, want the code URL %s", got, codeURL)
	}
	if width < 1024 {
		t.Errorf("the PNG is %d px wide, want ≥ 1024 for print", width)
	}
	if ppm := pngDPI(pngBytes); ppm != 11811 {
		t.Errorf("the PNG's pHYs says %d px/m, want 11811 (300 dpi)", ppm)
	}

	// The A4 poster.
	submitLink := `a.btn[href*="/poster"][href*="paper=A4"]`
	sctx, cancel := context.WithTimeout(tab, stepTimeout)
	resp, err := chromedp.RunResponse(sctx, chromedp.Click(chromedp.CSS(submitLink)))
	cancel()
	if err != nil || resp.Status != http.StatusOK {
		t.Fatalf("e2e: open the A4 poster: %v\n%s", err, pageState(tab))
	}
	poster := bodyText(t, tab)
	if !strings.Contains(poster, name) || !strings.Contains(poster, "支付宝") || !strings.Contains(poster, "示例物业服务有限公司") {
		t.Fatalf("the A4 poster does not name the community, the app and the company:\n%s", poster)
	}
	if n := run(t, tab, "poster QR", chromedp.Evaluate[int](`document.querySelectorAll(".qr svg").length`)); n != 1 {
		t.Fatalf("the poster shows %d QR symbols, want 1", n)
	}
	if !strings.Contains(run(t, tab, "poster CSS", chromedp.InnerHTML(chromedp.CSS("style"))), "size: A4") {
		t.Error("the poster's print CSS does not ask for A4")
	}
	consoleShots(t, tab, "poster")

	// The dashboard before the payment (through the admin's own session).
	api := sessionClient(t, tab, s)
	before, ok := dashboardToday(t, api, s, cid)
	if !ok {
		t.Fatalf("the dashboard does not list the new community %s", cid)
	}

	// A resident pays the code with Alipay.
	resident := isolatedTab(t, b, alipayUA)
	do(t, resident, "open the code in Alipay", chromedp.Navigate(codeURL), chromedp.WaitVisible(chromedp.ID("payform")))
	if got := run(t, resident, "form channel", chromedp.Evaluate[string](`document.getElementById("payform").dataset.channel`)); got != "alipay" {
		t.Fatalf("pay form channel = %q, want alipay", got)
	}
	do(t, resident, "pay 8.88",
		chromedp.SendKeys(chromedp.ID("amount"), "8.88"),
		chromedp.Click(chromedp.ID("pay")),
		chromedp.WaitVisible(chromedp.CSS("#cashier #pay")),
	)
	if got := textOf(t, resident, "amount"); got != "¥8.88" {
		t.Fatalf("cashier amount = %q, want ¥8.88", got)
	}
	do(t, resident, "pay on the cashier", chromedp.Click(chromedp.CSS("#cashier #pay")))
	loc := waitLocation(t, resident, "the result page", func(l string) bool { return strings.HasPrefix(l, codeURL+"/orders/") })
	orderID := resultOrder(t, loc, s.URLs.Gateway, token)
	waitStatus(t, resident, statusPaid)
	if o := stacktest.StoredOrder(t, s, orderID); o.IfaceID != iid || o.CommunityID != cid || o.AmountFen != 888 {
		t.Fatalf("the order went through interface %s of community %s (%d fen); want the new interface %s of %s", o.IfaceID, o.CommunityID, o.AmountFen, iid, cid)
	}

	// The records: JSON.
	var rec struct {
		OrderID       string `json:"order_id"`
		AmountFen     int64  `json:"amount_fen"`
		Amount        string `json:"amount"`
		Channel       string `json:"channel"`
		Status        string `json:"status"`
		PaidAt        string `json:"paid_at"`
		ProviderTxnID string `json:"provider_txn_id"`
	}
	eventually(t, tab, 30*time.Second, "the payment in the records", func() (bool, string) {
		st, _, raw := getWith(t, api, s.URLs.Gateway+"/admin/api/communities/"+cid+"/payments")
		if st != http.StatusOK {
			return false, fmt.Sprintf("%d %s", st, raw)
		}
		var p struct {
			CommunityID string            `json:"community_id"`
			Payments    []json.RawMessage `json:"payments"`
		}
		if err := json.Unmarshal(raw, &p); err != nil || p.CommunityID != cid {
			t.Fatalf("records JSON: %v %s", err, raw)
		}
		if len(p.Payments) == 0 {
			return false, string(raw)
		}
		if len(p.Payments) != 1 {
			t.Fatalf("the new community lists %d payments, want 1: %s", len(p.Payments), raw)
		}
		if err := json.Unmarshal(p.Payments[0], &rec); err != nil {
			t.Fatal(err)
		}
		return true, ""
	})
	if rec.OrderID != orderID || rec.AmountFen != 888 || rec.Amount != "8.88" || rec.Channel != "alipay" || rec.Status != "PAID" ||
		!strings.HasSuffix(rec.PaidAt, "+08:00") || rec.ProviderTxnID == "" {
		t.Fatalf("record = %+v, want order %s, 888 fen (8.88) via alipay, PAID, paid_at in +08:00, a transaction id", rec, orderID)
	}

	// The filters apply: no WeChat Pay payment, one Alipay payment of 8.88.
	paymentCounts(t, api, s.URLs.Gateway+"/admin/api/communities/"+cid+"/payments", map[string]int{"channel=wechat": 0, "channel=alipay&min=8.88&max=8.88": 1, "min=8.89": 0})

	// The records page, and its CSV export read back.
	open(t, tab, s.URLs.Gateway+"/admin/communities/"+cid+"/records")
	if txt := bodyText(t, tab); !strings.Contains(txt, orderID) || !strings.Contains(txt, "8.88") || !strings.Contains(txt, "支付宝") || !strings.Contains(txt, "已支付") {
		t.Fatalf("the records page does not show the payment %s:\n%s", orderID, txt)
	}
	consoleShots(t, tab, "records")
	csvLink := run(t, tab, "CSV link", chromedp.Evaluate[string](`document.getElementById("csv").href`))
	if csvLink != s.URLs.Gateway+"/admin/api/communities/"+cid+"/payments.csv" {
		t.Fatalf("the records page exports from %q", csvLink)
	}
	st, hdr, raw := getWith(t, api, csvLink)
	if st != http.StatusOK {
		t.Fatalf("GET payments.csv: %d %s", st, raw)
	}
	if ct := hdr.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") || !strings.Contains(strings.ToLower(ct), "utf-8") {
		t.Errorf("CSV Content-Type %q", ct)
	}
	if cd := hdr.Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment;") || !strings.Contains(cd, ".csv") {
		t.Errorf("CSV Content-Disposition %q", cd)
	}
	if !bytes.HasPrefix(raw, []byte("\xef\xbb\xbf")) {
		t.Fatalf("the CSV does not start with the UTF-8 BOM: % x", raw[:min(len(raw), 8)])
	}
	rows, err := csv.NewReader(bytes.NewReader(raw[3:])).ReadAll()
	if err != nil {
		t.Fatalf("the CSV does not parse: %v\n%s", err, raw)
	}
	if !bytes.Contains(raw, []byte("\r\n")) {
		t.Error("the CSV lines do not end with CRLF")
	}
	wantHeader := []string{"小区", "订单号", "支付时间", "营业日", "支付渠道", "状态", "金额（元）", "退款时间", "交易单号", "付款人标识"}
	if len(rows) != 2 || len(rows[0]) < len(wantHeader) || strings.Join(rows[0][:len(wantHeader)], ",") != strings.Join(wantHeader, ",") {
		t.Fatalf("CSV = %q, want the header %q and one row", rows, wantHeader)
	}
	row := rows[1]
	if row[0] != name || row[1] != orderID || row[2] != rec.PaidAt || row[4] != "支付宝" || row[5] != "已支付" || row[6] != "8.88" || row[8] != rec.ProviderTxnID {
		t.Fatalf("CSV row = %q, want %s, order %s paid %s via 支付宝, 已支付, 8.88, txn %s", row, name, orderID, rec.PaidAt, rec.ProviderTxnID)
	}

	// The dashboard moves (the aggregates are kept from the events: wait).
	var after dashboardFigures
	eventually(t, tab, 30*time.Second, "the dashboard to count the payment", func() (bool, string) {
		after, _ = dashboardToday(t, api, s, cid)
		return after.Count == before.Count+1, fmt.Sprintf("before %+v, now %+v", before, after)
	})
	if after.AmountFen != before.AmountFen+888 || after.Alipay != before.Alipay+888 {
		t.Fatalf("dashboard today: before %+v, after %+v; want +888 fen, all through Alipay", before, after)
	}

	// The pages a person reads: the dashboard and the records.
	open(t, tab, s.URLs.Gateway+"/admin/dashboard")
	if txt := bodyText(t, tab); !strings.Contains(txt, name) || !strings.Contains(txt, "8.88") {
		t.Fatalf("the dashboard page does not show %s with 8.88:\n%s", name, txt)
	}
	consoleShots(t, tab, "dashboard")
	open(t, tab, s.URLs.Gateway+"/admin/communities")
	consoleShots(t, tab, "communities")
}

// TestConsoleSqueezeOut: the demo manager logs in on two devices; the
// first session's next request says 您的账号已在其他地方登录 (the page and
// the API), the second goes on.
func TestConsoleSqueezeOut(t *testing.T) {
	b := consoleBrowser(t) // first: a missing browser fails before the stack starts
	s := stacktest.Start(t)
	mgr := account(t, s, "manager", false)

	first, second := isolatedTab(t, b, ""), isolatedTab(t, b, "")
	signIn(t, s, first, mgr.Phone, mgr.Password, "/admin")
	if txt := bodyText(t, first); !strings.Contains(txt, mgr.Name) || strings.Contains(txt, "没有权限") {
		t.Fatalf("the manager's first page:\n%s", txt)
	}
	consoleShots(t, first, "manager-home")
	signIn(t, s, second, mgr.Phone, mgr.Password, "/admin")

	if st := open(t, first, s.URLs.Gateway+"/admin"); st != http.StatusUnauthorized {
		t.Errorf("the squeezed-out session's next page answered %d, want 401", st)
	}
	if txt := bodyText(t, first); !strings.Contains(txt, "您的账号已在其他地方登录") || !strings.Contains(txt, "登录") {
		t.Fatalf("the squeezed-out session's next page does not say 您的账号已在其他地方登录:\n%s", txt)
	}
	if n := run(t, first, "login form", chromedp.Evaluate[int](`document.querySelectorAll('form[action="/admin/login"] #password').length`)); n != 1 {
		t.Fatalf("the squeezed-out page offers no login form\n%s", pageState(first))
	}
	consoleShots(t, first, "squeezed-out")
	if st := open(t, second, s.URLs.Gateway+"/admin"); st != http.StatusOK || !strings.Contains(bodyText(t, second), mgr.Name) {
		t.Fatalf("the newer session stopped working (%d)\n%s", st, pageState(second))
	}

	// The same through the API, with two cookie jars.
	one := apiLogin(t, s, mgr.Phone, mgr.Password)
	two := apiLogin(t, s, mgr.Phone, mgr.Password)
	st, raw := one.do(t, http.MethodDelete, "/admin/api/session", "", nil)
	var e struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	if err := json.Unmarshal(raw, &e); err != nil || st != http.StatusUnauthorized || e.Error.Code != "squeezed_out" || e.Error.Message != "您的账号已在其他地方登录" {
		t.Fatalf("the squeezed-out API session answered %d %s, want 401 squeezed_out 您的账号已在其他地方登录", st, raw)
	}
	if st, raw := two.do(t, http.MethodDelete, "/admin/api/session", "", nil); st != http.StatusNoContent {
		t.Fatalf("the newer API session could not log out: %d %s", st, raw)
	}
	if st, _ := two.do(t, http.MethodDelete, "/admin/api/session", "", nil); st != http.StatusUnauthorized {
		t.Fatalf("a logged-out session still works (%d)", st)
	}
}

var setPasswordLinkRE = regexp.MustCompile(`https?://[^\s"<>]+/admin/set-password\?token=[A-Za-z0-9_%-]+`)

// outboxMessage is a message of GET <outbox>/messages.
type outboxMessage struct {
	Channel string `json:"channel"`
	To      string `json:"to"`
	Subject string `json:"subject"`
	Body    string `json:"body"`
	HTML    string `json:"html"`
	SentAt  string `json:"sent_at"`
}

// TestConsoleStaffRegistration: the demo admin adds a cashier; the
// set-password e-mail arrives in the outbox; its link sets a password once;
// the cashier logs in with it.
func TestConsoleStaffRegistration(t *testing.T) {
	b := consoleBrowser(t) // first: a missing browser fails before the stack starts
	s := stacktest.Start(t)
	admin := account(t, s, "admin", false)
	tab := isolatedTab(t, b, "")
	signIn(t, s, tab, admin.Phone, admin.Password, "/admin/communities")

	suffix := fmt.Sprintf("%04d", time.Now().UnixNano()%10000)
	phone, email := "1370000"+suffix, "cashier"+suffix+"@demo.example.com"
	open(t, tab, s.URLs.Gateway+"/admin/staff")
	fill(t, tab, "new staff", map[string]string{"name": "新收银员", "phone": phone, "email": email, "role": "cashier"})
	submit(t, tab, "add the cashier", `form[action="/admin/staff"]`)
	if p := pagePath(t, tab); p != "/admin/staff?done=staff" {
		t.Fatalf("adding staff landed on %s\n%s", p, pageState(tab))
	}
	if txt := bodyText(t, tab); !strings.Contains(txt, "员工已添加") || !strings.Contains(txt, phone) || !strings.Contains(txt, "待设置密码") {
		t.Fatalf("the staff page after adding:\n%s", txt)
	}
	consoleShots(t, tab, "staff")

	// The e-mail in the outbox.
	var mail outboxMessage
	eventually(t, tab, 15*time.Second, "the set-password e-mail in the outbox", func() (bool, string) {
		var msgs []outboxMessage
		st, _, raw := getWith(t, http.DefaultClient, s.URLs.Outbox+"/messages")
		if st != http.StatusOK || json.Unmarshal(raw, &msgs) != nil {
			return false, fmt.Sprintf("%d %s", st, raw)
		}
		for _, m := range msgs {
			if m.Channel == "email" && m.To == email {
				mail = m
				return true, ""
			}
		}
		return false, fmt.Sprintf("%d messages, none to %s", len(msgs), email)
	})
	link := setPasswordLinkRE.FindString(mail.Body)
	if !strings.Contains(mail.Subject, "设置") || link == "" || !strings.Contains(mail.Body, phone) {
		t.Fatalf("set-password e-mail: subject %q, body:\n%s", mail.Subject, mail.Body)
	}
	if !strings.HasPrefix(link, s.URLs.Gateway+"/admin/set-password?token=") {
		t.Fatalf("the link %s does not lead to the console at %s", link, s.URLs.Gateway)
	}

	// The link, on the cashier's phone.
	const password = "Shouyin-2026-ok"
	cashier := isolatedTab(t, b, "")
	setPassword := func(tab context.Context) (int64, string) {
		if st := open(t, tab, link); st != http.StatusOK {
			t.Fatalf("the set-password link answered %d", st)
		}
		fill(t, tab, "new password", map[string]string{"password": password, "password2": password})
		st := submit(t, tab, "set the password", `form[action="/admin/set-password"]`)
		return st, bodyText(t, tab)
	}
	if st, txt := setPassword(cashier); st != http.StatusOK || !strings.Contains(txt, "密码已设置") {
		t.Fatalf("setting the password answered %d:\n%s", st, txt)
	}
	consoleShots(t, cashier, "set-password")
	signIn(t, s, cashier, phone, password, "/admin/communities")
	if txt := bodyText(t, cashier); !strings.Contains(txt, "新收银员") || !strings.Contains(txt, "收银员") || !strings.Contains(txt, "阳光花园") {
		t.Fatalf("the new cashier's first page:\n%s", txt)
	}

	// The link works once.
	if st, txt := setPassword(isolatedTab(t, b, "")); st != http.StatusBadRequest || !strings.Contains(txt, "链接已失效") {
		t.Fatalf("the used link answered %d:\n%s", st, txt)
	}
	open(t, tab, s.URLs.Gateway+"/admin/staff")
	row := run(t, tab, "the cashier's row", chromedp.Evaluate[string](fmt.Sprintf(
		`(Array.from(document.querySelectorAll("tbody tr")).find(r => r.textContent.includes(%q)) || {}).textContent || ""`, phone)))
	if !strings.Contains(row, "收银员") || !strings.Contains(row, "正常") {
		t.Fatalf("the cashier's row on the staff page: %q, want 收银员 正常", row)
	}
}

// TestConsoleTenancy: the second company's admin gets 404 for the demo
// company's community pages and API, the same 404 as for what does not
// exist, and cannot change them.
func TestConsoleTenancy(t *testing.T) {
	b := consoleBrowser(t) // first: a missing browser fails before the stack starts
	s := stacktest.Start(t)
	other := account(t, s, "admin", true)
	demo := community(t, s, "demo-both")
	tab := isolatedTab(t, b, "")
	signIn(t, s, tab, other.Phone, other.Password, "/admin/communities")
	if txt := bodyText(t, tab); !strings.Contains(txt, "第二小区") || strings.Contains(txt, "阳光花园") || strings.Contains(txt, "翠湖小区") {
		t.Fatalf("the second company's admin sees:\n%s", txt)
	}

	for _, p := range []string{
		"/admin/communities/demo-both", "/admin/communities/demo-both/records", "/admin/communities/demo-both/payer-fields",
		"/admin/codes/" + demo.Token, "/admin/codes/" + demo.Token + "/poster", "/admin/interfaces/demo-alipay",
	} {
		if st := open(t, tab, s.URLs.Gateway+p); st != http.StatusNotFound {
			t.Errorf("GET %s as the second company's admin: %d, want 404", p, st)
		}
		if txt := bodyText(t, tab); !strings.Contains(txt, "您要找的内容不存在") || strings.Contains(txt, "阳光花园") {
			t.Errorf("GET %s shows:\n%s", p, txt)
		}
	}

	api := sessionClient(t, tab, s)
	st, _, raw := getWith(t, api, s.URLs.Gateway+"/admin/api/communities")
	var list struct {
		Communities []struct{ ID string } `json:"communities"`
	}
	if st != http.StatusOK || json.Unmarshal(raw, &list) != nil || len(list.Communities) != 1 || list.Communities[0].ID != stack.SecondCommunityID {
		t.Fatalf("GET /admin/api/communities as the second company's admin: %d %s", st, raw)
	}
	for _, p := range []string{"/payments", "/payments.csv", "/code.png", "/code.svg"} {
		st, _, theirs := getWith(t, api, s.URLs.Gateway+"/admin/api/communities/demo-both"+p)
		_, _, none := getWith(t, api, s.URLs.Gateway+"/admin/api/communities/no-such-community"+p)
		if st != http.StatusNotFound || !bytes.Equal(theirs, none) || !bytes.Contains(theirs, []byte(`"not_found"`)) {
			t.Errorf("GET demo-both%s: %d %s; want the 404 of a community that does not exist (%s)", p, st, theirs, none)
		}
	}

	// A change to the demo company's community, with the session's own
	// CSRF token: 404, nothing changed.
	open(t, tab, s.URLs.Gateway+"/admin/communities")
	csrf := run(t, tab, "csrf", chromedp.Evaluate[string](`document.querySelector('input[name="csrf"]').value`))
	resp, err := api.PostForm(s.URLs.Gateway+"/admin/communities/demo-both", url.Values{"csrf": {csrf}, "name": {"被改名"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("POST /admin/communities/demo-both as the second company's admin: %d, want 404", resp.StatusCode)
	}
	cm, err := s.Store().GetCommunity(context.Background(), "demo-both")
	if err != nil || cm.Name != "阳光花园" {
		t.Fatalf("demo-both after the other company's POST: %+v %v", cm, err)
	}
	// The same form to its own community goes through (the token was right).
	resp, err = api.PostForm(s.URLs.Gateway+"/admin/communities/"+stack.SecondCommunityID, url.Values{"csrf": {csrf}, "name": {"第二小区"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("POST to its own community: %d, want 200 after the redirect", resp.StatusCode)
	}
}

// paymentCounts checks how many records the records API answers for each
// query string.
func paymentCounts(t *testing.T, api *http.Client, payments string, want map[string]int) {
	t.Helper()
	for q, n := range want {
		st, _, raw := getWith(t, api, payments+"?"+q)
		var p struct {
			Payments []json.RawMessage `json:"payments"`
		}
		if st != http.StatusOK || json.Unmarshal(raw, &p) != nil || len(p.Payments) != n {
			t.Errorf("payments?%s: %d %s; want %d records", q, st, raw, n)
		}
	}
}
