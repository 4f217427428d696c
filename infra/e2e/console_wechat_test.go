package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/estatepay/estatepay/infra/local/stacktest"
)

// TestConsoleOnboardWeChat is the WeChat half of the walk-through
// (TestConsoleOnboardPayRecords does the Alipay half): the demo admin
// creates a community, creates a WeChat Pay interface (direct mode) with
// the sandbox merchant's values and keys, moves it to 申请成功, associates
// the community with it on the community page (微信支付设置); the community
// then takes both channels (Alipay through the company's interface); a
// resident pays its code in WeChat (the sandbox WebView: OAuth, the
// cashier's 支付), and the payment shows in the community's records as a
// WeChat Pay payment through the new interface.
func TestConsoleOnboardWeChat(t *testing.T) {
	b := consoleBrowser(t) // first: a missing browser fails before the stack starts
	s := stacktest.Start(t)
	desc := s.Description()
	keys := s.Keys()
	admin := account(t, s, "admin", false)
	tab := isolatedTab(t, b, "")
	signIn(t, s, tab, admin.Phone, admin.Password, "/admin/communities")

	// A new community.
	name := "锦江苑" + fmt.Sprint(time.Now().UnixNano()%1000)
	fill(t, tab, "new community", map[string]string{"name": name})
	submit(t, tab, "create the community", `form[action="/admin/communities"]`)
	m := communityPathRE.FindStringSubmatch(pagePath(t, tab))
	if m == nil {
		t.Fatalf("creating a community landed on %s\n%s", pagePath(t, tab), pageState(tab))
	}
	cid := m[1]

	// A WeChat Pay interface, direct mode, with the sandbox merchant's
	// values (stack.json sandbox.wechat).
	wx := desc.Sandbox.WeChat
	open(t, tab, s.URLs.Gateway+"/admin/interfaces/new?channel=wechat")
	fill(t, tab, "wechat interface", map[string]string{
		"mode": "direct", "f-app_id": fmt.Sprint(wx["appid"]), "f-mch_id": fmt.Sprint(wx["mchid"]),
		"f-merchant_serial_no": fmt.Sprint(wx["merchant_serial_no"]), "f-platform_public_key_id": fmt.Sprint(wx["platform_public_key_id"]),
	})
	submit(t, tab, "create the interface", `form[action="/admin/interfaces"]`)
	m = ifacePathRE.FindStringSubmatch(pagePath(t, tab))
	if m == nil {
		t.Fatalf("creating the WeChat interface landed on %s\n%s", pagePath(t, tab), pageState(tab))
	}
	iid := m[1]
	if txt := bodyText(t, tab); !strings.Contains(txt, "微信支付接口") || !strings.Contains(txt, "当前状态：申请中") || !strings.Contains(txt, "未设置") {
		t.Fatalf("the new WeChat interface's page:\n%s", txt)
	}
	// WeChat Pay has no 支付宝授权待确认 step, and 申请成功 needs the keys.
	next := run(t, tab, "next statuses", chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('select[name="status"] option')).map(o => o.value).filter(v => v)`))
	if strings.Join(next, ",") != "approved,rejected" {
		t.Fatalf("a WeChat interface 申请中 may move to %q, want approved,rejected", next)
	}
	do(t, tab, "choose 申请成功", chromedp.SetValue(chromedp.CSS(`select[name="status"]`), "approved"))
	submit(t, tab, "approve without keys", `form[action$="/status"]`)
	if txt := bodyText(t, tab); !strings.Contains(txt, "请先录入密钥") {
		t.Fatalf("approving a WeChat interface without keys:\n%s", txt)
	}

	// The keys, entered once: the merchant's API key, the APIv3 key, the
	// platform public key and the official account's AppSecret.
	merchantKey := pemFile(t, fmt.Sprint(wx["merchant_private_key"]))
	platformPub := pemFile(t, filepath.Join(desc.Sandbox.KeysDir, "wechat-platform-public.pem"))
	open(t, tab, s.URLs.Gateway+"/admin/interfaces/"+iid)
	fill(t, tab, "wechat keys", map[string]string{
		"s-merchant_private_key": merchantKey, "s-apiv3_key": keys.APIv3Key,
		"s-platform_public_key": platformPub, "s-oauth_app_secret": keys.OAuthSecret,
	})
	submit(t, tab, "save the keys", `form[action$="/secret"]`)
	html := run(t, tab, "interface page", chromedp.OuterHTML(chromedp.CSS("html")))
	if !strings.Contains(html, "密钥已保存") || strings.Contains(html, "BEGIN") || strings.Contains(html, keys.APIv3Key) ||
		strings.Contains(html, keys.OAuthSecret) || strings.Contains(html, strings.Split(merchantKey, "\n")[1]) {
		t.Fatalf("after saving the keys the page must say so and show no key material:\n%s", bodyText(t, tab))
	}
	fps := run(t, tab, "fingerprints", chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("dl.kv dd")).map(e => e.textContent.trim())`))
	if len(fps) != 2 {
		t.Fatalf("fingerprints shown: %q, want the merchant key's and the AppSecret's", fps)
	}
	for _, fp := range fps {
		if strings.Contains(fp, "未设置") || len(fp) < 8 {
			t.Fatalf("fingerprints shown: %q", fps)
		}
	}
	do(t, tab, "choose 申请成功", chromedp.SetValue(chromedp.CSS(`select[name="status"]`), "approved"))
	submit(t, tab, "move to 申请成功", `form[action$="/status"]`)
	if txt := bodyText(t, tab); !strings.Contains(txt, "状态已更新") || !strings.Contains(txt, "当前状态：申请成功") || strings.Contains(txt, "设为公司支付宝接口") {
		t.Fatalf("after moving the WeChat interface to 申请成功:\n%s", txt)
	}
	consoleShots(t, tab, "interface-wechat")

	// 微信支付设置 on the community page.
	label := "微信支付 · 直连商户 · " + fmt.Sprint(wx["mchid"]) + "（申请成功）"
	open(t, tab, s.URLs.Gateway+"/admin/communities/"+cid)
	opts := run(t, tab, "wechat options", chromedp.Evaluate[map[string]string](
		`Object.fromEntries(Array.from(document.querySelectorAll("select#wechat option")).map(o => [o.value, o.textContent.trim()]))`))
	if opts[iid] != label {
		t.Fatalf("微信支付设置 offers %q, want %s as %q", opts, iid, label)
	}
	do(t, tab, "choose the new interface", chromedp.SetValue(chromedp.ID("wechat"), iid))
	if st := submit(t, tab, "associate the WeChat interface", `form[action="/admin/communities/`+cid+`/wechat"]`); st != http.StatusOK {
		t.Fatalf("saving 微信支付设置 answered %d\n%s", st, pageState(tab))
	}
	if p := pagePath(t, tab); p != "/admin/communities/"+cid+"?done=saved" {
		t.Fatalf("saving 微信支付设置 landed on %s\n%s", p, pageState(tab))
	}
	if got := run(t, tab, "selected", chromedp.Evaluate[string](`document.getElementById("wechat").value`)); got != iid {
		t.Fatalf("微信支付设置 shows %q selected after saving, want %s", got, iid)
	}
	apps := run(t, tab, "apps", chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("p.sub .tag.ok")).map(e => e.textContent)`))
	if strings.Join(apps, ",") != "微信,支付宝" {
		t.Fatalf("the community takes %q, want 微信,支付宝\n%s", apps, bodyText(t, tab))
	}
	consoleShots(t, tab, "community-wechat")
	codeLinks := run(t, tab, "code links", chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('a[href^="/admin/codes/"]')).map(a => a.getAttribute("href")).filter(h => !h.endsWith("/payer-fields"))`))
	if len(codeLinks) != 1 {
		t.Fatalf("the new community lists code links %v, want its one code", codeLinks)
	}
	token := strings.TrimPrefix(codeLinks[0], "/admin/codes/")

	// A resident pays the code in WeChat: the sandbox WebView, OAuth, the
	// cashier's 支付.
	resident := isolatedTab(t, b, "") // the WebView proxy supplies the MicroMessenger UA
	page := s.URLs.WeChatWebView + "/c/" + token
	do(t, resident, "open the code in WeChat", chromedp.Navigate(page), chromedp.WaitVisible(chromedp.ID("payform")))
	if loc := run(t, resident, "location", chromedp.Location()); loc != page {
		t.Fatalf("pay page at %q, want %s (after OAuth, code and state removed)", loc, page)
	}
	if got := run(t, resident, "form channel", chromedp.Evaluate[string](`document.getElementById("payform").dataset.channel`)); got != "wechat" {
		t.Fatalf("pay form channel = %q, want wechat\n%s", got, pageState(resident))
	}
	payer := payerCookie(t, resident, s, s.URLs.WeChatWebView+"/api/orders")
	if want := sandboxOpenID(t, resident, s); payer.OpenID != want {
		t.Fatalf("payer cookie openid %q, want the sandbox user's %q", payer.OpenID, want)
	}
	do(t, resident, "pay 6.66",
		chromedp.SendKeys(chromedp.ID("amount"), "6.66"),
		chromedp.Click(chromedp.ID("pay")),
		chromedp.WaitVisible(chromedp.ID("wxsandbox-cashier")),
	)
	clickInCashier(t, resident, "¥6.66", "pay")
	loc := waitLocation(t, resident, "the result page", func(l string) bool { return strings.HasPrefix(l, page+"/orders/") })
	orderID := resultOrder(t, loc, s.URLs.WeChatWebView, token)
	waitStatus(t, resident, statusPaid)
	if o := stacktest.StoredOrder(t, s, orderID); o.IfaceID != iid || o.CommunityID != cid || o.AmountFen != 666 {
		t.Fatalf("the order went through interface %s of community %s (%d fen); want the new interface %s of %s", o.IfaceID, o.CommunityID, o.AmountFen, iid, cid)
	}

	// The community's records (JSON, through the admin's session): the
	// payment, via WeChat Pay, paid by the resident.
	api := sessionClient(t, tab, s)
	type record struct {
		OrderID       string `json:"order_id"`
		AmountFen     int64  `json:"amount_fen"`
		Amount        string `json:"amount"`
		Channel       string `json:"channel"`
		Status        string `json:"status"`
		PaidAt        string `json:"paid_at"`
		ProviderTxnID string `json:"provider_txn_id"`
		PayerID       string `json:"payer_id"`
	}
	var rec record
	eventually(t, tab, 30*time.Second, "the WeChat payment in the records", func() (bool, string) {
		st, _, raw := getWith(t, api, s.URLs.Gateway+"/admin/api/communities/"+cid+"/payments")
		if st != http.StatusOK {
			return false, fmt.Sprintf("%d %s", st, raw)
		}
		var p struct {
			CommunityID string   `json:"community_id"`
			Payments    []record `json:"payments"`
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
		rec = p.Payments[0]
		return true, ""
	})
	if rec.OrderID != orderID || rec.AmountFen != 666 || rec.Amount != "6.66" || rec.Channel != "wechat" || rec.Status != "PAID" ||
		!strings.HasSuffix(rec.PaidAt, "+08:00") || rec.ProviderTxnID == "" || rec.PayerID != payer.OpenID {
		t.Fatalf("record = %+v, want order %s, 666 fen (6.66) via wechat, PAID, paid_at in +08:00, a transaction id, paid by %s", rec, orderID, payer.OpenID)
	}
	paymentCounts(t, api, s.URLs.Gateway+"/admin/api/communities/"+cid+"/payments", map[string]int{"channel=wechat": 1, "channel=alipay": 0})

	// The records page names the channel as people read it.
	open(t, tab, s.URLs.Gateway+"/admin/communities/"+cid+"/records")
	if txt := bodyText(t, tab); !strings.Contains(txt, orderID) || !strings.Contains(txt, "6.66") || !strings.Contains(txt, "微信") || !strings.Contains(txt, "已支付") {
		t.Fatalf("the records page does not show the WeChat payment %s:\n%s", orderID, txt)
	}
	consoleShots(t, tab, "records-wechat")
}
