package main

import (
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/estatepay/estatepay/infra/local/stack"
	"github.com/estatepay/estatepay/infra/local/stacktest"
	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/order"
	"github.com/estatepay/estatepay/shared/web"
)

var historyRowRE = regexp.MustCompile(`<li><a href="([^"]+)"><span class="what"><b class="amt">¥([0-9.]+)</b><small>([^<]*)</small></span><span class="tag (\w+)">([^<]+)</span>`)

type historyRowSeen struct{ link, amount, small, state, text string }

func historyRows(p page) []historyRowSeen {
	var out []historyRowSeen
	for _, m := range historyRowRE.FindAllStringSubmatch(p.body, -1) {
		out = append(out, historyRowSeen{m[1], m[2], m[3], m[4], m[5]})
	}
	return out
}

// payerCookie is the signed payer cookie the landing function would issue
// for id under iface/app, issued at `at`.
func payerCookie(t *testing.T, s *stack.Stack, iface, app, id string, at time.Time, key []byte) *http.Cookie {
	t.Helper()
	if key == nil {
		key = []byte(s.Keys().PayerCookieKey)
	}
	set, err := web.PayerCookies{Key: key}.Issue(web.Payer{Iface: iface, AppID: app, OpenID: id}, at)
	if err != nil {
		t.Fatal(err)
	}
	name, value, _ := strings.Cut(strings.SplitN(set[0], ";", 2)[0], "=")
	return &http.Cookie{Name: name, Value: value}
}

// 我的缴费记录 (X4): the payer the verified cookie names sees their own
// payments in the community, newest first, each linking to its receipt;
// never anyone else's, whatever the request says; no or a bad identity is
// the OAuth step again.
func TestHistory(t *testing.T) {
	s := stacktest.Start(t)
	gw := s.URLs.Gateway
	c := noRedirect()
	both := demo(t, s, "demo-both")
	aliOnly := demo(t, s, "demo-alipay-only")
	wxKey := func(id string) string { return order.PayerKeyOf(domain.WeChat, stack.DemoWeChatAppID, id) }
	aliKey := func(id string) string { return order.PayerKeyOf(domain.Alipay, stack.DemoAlipayAppID, id) }
	base := time.Now().Add(-3 * time.Hour).Truncate(time.Second)
	seed := func(dc stack.DemoCommunity, id string, fen int64, key string, paidAt time.Time, mut func(*order.Order)) {
		o := order.Order{ID: id, CommunityID: dc.ID, CompanyID: stack.DemoCompanyID, CodeToken: dc.Token, Channel: domain.Alipay,
			IfaceID: "demo-alipay", MerchantID: stack.DemoAlipaySellerID, AppID: stack.DemoAlipayAppID, AmountFen: fen, PayerKey: key}
		if mut != nil {
			mut(&o)
		}
		stacktest.SeedOrder(t, s.Store(), o, base, paidAt)
	}
	seed(both, "EPHISTAAAAAAAAAAAAAAAAAAAAAQ", 1001, wxKey("oHistA"), base.Add(time.Minute), nil)
	seed(both, "EPHISTAAAAAAAAAAAAAAAAAAAAA2", 2002, wxKey("oHistA"), base.Add(2*time.Minute), nil)
	seed(both, "EPHISTBBBBBBBBBBBBBBBBBBBBBQ", 3003, wxKey("oHistB"), base.Add(3*time.Minute), nil)
	seed(aliOnly, "EPHISTAOTHERCOMMUNITYAAAAAAQ", 4004, wxKey("oHistA"), base.Add(4*time.Minute), nil)
	seed(both, "EPHISTAUNPAIDAAAAAAAAAAAAAAQ", 5005, wxKey("oHistA"), time.Time{}, nil)
	seed(both, "EPHISTALIPAYAAAAAAAAAAAAAAAQ", 6006, aliKey("2088hist"), base.Add(5*time.Minute), nil)
	// A refunded payment shows 已退款.
	refunded := "EPHISTAREFUNDEDAAAAAAAAAAAAQ"
	seed(both, refunded, 7007, wxKey("oHistA"), base.Add(6*time.Minute), nil)
	if _, err := s.Store().OrderRepo().Update(t.Context(), refunded, func(o *order.Order) error {
		o.RefundedFen, o.Version = o.AmountFen, o.Version+1
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	me := payerCookie(t, s, "demo-wechat", stack.DemoWeChatAppID, "oHistA", time.Now(), nil)
	historyURL := gw + "/c/" + both.Token + "/history"

	t.Run("WeChat payer sees only their own payments, newest first", func(t *testing.T) {
		// A payer parameter is no parameter: the cookie alone decides.
		p := get(t, c, historyURL+"?openid=oHistB&payer_id=oHistB&payer=oHistB", uaWeChat, me)
		if p.status != 200 || p.header.Get("Cache-Control") != "no-store" {
			t.Fatalf("status %d cache %q: %s", p.status, p.header.Get("Cache-Control"), p.body)
		}
		rows := historyRows(p)
		want := []historyRowSeen{
			{"/c/" + both.Token + "/orders/" + refunded, "70.07", "", "refunded", "已退款"},
			{"/c/" + both.Token + "/orders/EPHISTAAAAAAAAAAAAAAAAAAAAA2", "20.02", "", "paid", "支付成功"},
			{"/c/" + both.Token + "/orders/EPHISTAAAAAAAAAAAAAAAAAAAAAQ", "10.01", "", "paid", "支付成功"},
		}
		if len(rows) != len(want) {
			t.Fatalf("%d rows, want %d: %s", len(rows), len(want), p.body)
		}
		for i, r := range rows {
			w := want[i]
			if r.link != w.link || r.amount != w.amount || r.state != w.state || r.text != w.text || !regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$`).MatchString(r.small) {
				t.Errorf("row %d = %+v, want %+v", i, r, w)
			}
		}
		for _, other := range []string{"EPHISTBBBBBBBBBBBBBBBBBBBBBQ", "EPHISTAOTHERCOMMUNITYAAAAAAQ", "EPHISTAUNPAIDAAAAAAAAAAAAAAQ", "EPHISTALIPAYAAAAAAAAAAAAAAAQ"} {
			if strings.Contains(p.body, other) {
				t.Errorf("history lists %s", other)
			}
		}
		if !strings.Contains(p.body, `href="/c/`+both.Token+`"`) {
			t.Error("no way back to the code's page")
		}
	})

	t.Run("another payer's list is theirs", func(t *testing.T) {
		p := get(t, c, historyURL, uaWeChat, payerCookie(t, s, "demo-wechat", stack.DemoWeChatAppID, "oHistB", time.Now(), nil))
		rows := historyRows(p)
		if len(rows) != 1 || !strings.HasSuffix(rows[0].link, "EPHISTBBBBBBBBBBBBBBBBBBBBBQ") {
			t.Fatalf("rows %+v", rows)
		}
		p = get(t, c, historyURL, uaWeChat, payerCookie(t, s, "demo-wechat", stack.DemoWeChatAppID, "oNobody", time.Now(), nil))
		if len(historyRows(p)) != 0 || !strings.Contains(p.body, "暂无缴费记录") {
			t.Fatalf("a payer without payments: %s", p.body)
		}
	})

	t.Run("no, forged, expired or foreign identity: the OAuth step", func(t *testing.T) {
		forged := payerCookie(t, s, "demo-wechat", stack.DemoWeChatAppID, "oHistA", time.Now(), []byte(strings.Repeat("k", 32)))
		expired := payerCookie(t, s, "demo-wechat", stack.DemoWeChatAppID, "oHistA", time.Now().Add(-web.PayerCookieTTL-time.Minute), nil)
		otherApp := payerCookie(t, s, "demo-wechat", "wxOtherApp0000000", "oHistA", time.Now(), nil)
		tampered := &http.Cookie{Name: me.Name, Value: strings.Replace(me.Value, ".", "x.", 1)}
		for name, ck := range map[string]*http.Cookie{"none": nil, "forged": forged, "expired": expired, "other app": otherApp, "tampered": tampered} {
			var cks []*http.Cookie
			if ck != nil {
				cks = append(cks, ck)
			}
			p := get(t, c, historyURL, uaWeChat, cks...)
			loc, _ := url.Parse(p.header.Get("Location"))
			if p.status != http.StatusFound || loc == nil || !strings.HasPrefix(loc.String(), s.URLs.WeChatSandbox+"/connect/oauth2/authorize?") {
				t.Errorf("%s: %d %q, want the WeChat OAuth redirect", name, p.status, p.header.Get("Location"))
				continue
			}
			if back := loc.Query().Get("redirect_uri"); !strings.HasSuffix(back, "/c/"+both.Token+"/history") {
				t.Errorf("%s: OAuth comes back to %q", name, back)
			}
			if strings.Contains(p.body, "EPHIST") {
				t.Errorf("%s: lists orders", name)
			}
		}
	})

	t.Run("WeChat round trip issues the identity", func(t *testing.T) {
		jar := newJar(t)
		p := get(t, &http.Client{Jar: jar}, historyURL, uaWeChat)
		if p.status != 200 || !strings.Contains(p.body, "暂无缴费记录") || p.url.Path != "/c/"+both.Token+"/history" {
			t.Fatalf("%d at %s: %s", p.status, p.url, p.body)
		}
		if got := payerFromJar(t, jar, p.url, s); got.Iface != "demo-wechat" || got.AppID != stack.DemoWeChatAppID || got.OpenID == "" {
			t.Fatalf("issued %+v", got)
		}
	})

	t.Run("Alipay", func(t *testing.T) {
		mine := payerCookie(t, s, "demo-alipay", stack.DemoAlipayAppID, "2088hist", time.Now(), nil)
		p := get(t, c, historyURL, uaAlipay, mine)
		rows := historyRows(p)
		if len(rows) != 1 || !strings.HasSuffix(rows[0].link, "EPHISTALIPAYAAAAAAAAAAAAAAAQ") || rows[0].amount != "60.06" {
			t.Fatalf("rows %+v: %s", rows, p.body)
		}
		// A WeChat identity in Alipay is no Alipay identity: auth_base first.
		p = get(t, c, historyURL, uaAlipay, me)
		loc, _ := url.Parse(p.header.Get("Location"))
		if p.status != http.StatusFound || loc == nil || !strings.HasSuffix(loc.Path, "/oauth2/publicAppAuthorize.htm") ||
			loc.Query().Get("scope") != "auth_base" || loc.Query().Get("app_id") != stack.DemoAlipayAppID || loc.Query().Get("state") == "" {
			t.Fatalf("%d %q, want Alipay's authorize page", p.status, p.header.Get("Location"))
		}
		// The whole round trip through the sandbox.
		jar := newJar(t)
		p = get(t, &http.Client{Jar: jar}, historyURL, uaAlipay)
		if p.status != 200 || !strings.Contains(p.body, "暂无缴费记录") || p.url.Path != "/c/"+both.Token+"/history" {
			t.Fatalf("%d at %s: %s", p.status, p.url, p.body)
		}
		if got := payerFromJar(t, jar, p.url, s); got.Iface != "demo-alipay" || got.AppID != stack.DemoAlipayAppID || !strings.HasPrefix(got.OpenID, "0") {
			t.Fatalf("issued %+v", got)
		}
	})

	t.Run("other browsers are told where to open it", func(t *testing.T) {
		p := get(t, c, historyURL, uaDesktop, me)
		if p.status != 200 || message(p) != domain.MsgScanWithBoth || strings.Contains(p.body, "EPHIST") {
			t.Fatalf("%d %q", p.status, message(p))
		}
	})

	t.Run("notice history", func(t *testing.T) {
		h := stacktest.SeedHouse(t, s, stack.DemoCompanyID, "demo-both", "9", "1", "901", "王五", 1500)
		n := stacktest.SeedNotice(t, s, h)
		oid := "EPHISTNOTICEAAAAAAAAAAAAAAAQ"
		seed(both, oid, 1500, wxKey("oHistA"), base.Add(7*time.Minute), func(o *order.Order) {
			o.CodeToken, o.NoticeID, o.HouseID, o.HouseLabel = "", n.ID, h.ID, n.Label()
		})
		p := get(t, c, gw+"/n/"+n.ID+"/history", uaWeChat, me)
		rows := historyRows(p)
		if len(rows) != 4 || rows[0].link != "/n/"+n.ID+"/orders/"+oid || !strings.HasSuffix(rows[0].small, " · "+n.Label()) {
			t.Fatalf("rows %+v", rows)
		}
		if rows[1].link != "/c/"+both.Token+"/orders/"+refunded {
			t.Errorf("the community's code payments belong there too: %+v", rows[1])
		}
		if !strings.Contains(p.body, `href="/n/`+n.ID+`"`) {
			t.Error("no way back to the notice")
		}
		if p := get(t, c, gw+"/n/NOSUCHNOTICE0000000000/history", uaWeChat, me); p.status != http.StatusNotFound {
			t.Errorf("unknown notice: %d", p.status)
		}
	})

	t.Run("links to it", func(t *testing.T) {
		p := get(t, c, gw+"/c/"+both.Token, uaAlipay)
		if !strings.Contains(p.body, `href="/c/`+both.Token+`/history"`) || !strings.Contains(p.body, "我的缴费记录") {
			t.Error("the code page has no 我的缴费记录 link")
		}
		p = get(t, c, gw+"/c/"+both.Token+"/orders/EPHISTAAAAAAAAAAAAAAAAAAAAAQ", uaAlipay)
		if !strings.Contains(p.body, `href="/c/`+both.Token+`/history"`) {
			t.Errorf("the receipt has no 我的缴费记录 link: %s", p.body)
		}
	})
}

func newJar(t *testing.T) http.CookieJar {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return jar
}
