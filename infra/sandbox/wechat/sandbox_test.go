package wechat_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/estatepay/estatepay/infra/sandbox/wechat"
	"github.com/estatepay/estatepay/shared/pay"
	"github.com/estatepay/estatepay/shared/pay/wechatpay"
)

const (
	keyID  = "PUB_KEY_ID_0114232134912410000000000000000002"
	mchID  = "1900000109"
	appID  = "wxd678efh567hg6787"
	serial = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
	apiV3  = "0123456789abcdef0123456789abcdef"
)

var keys = sync.OnceValue(func() [2]*rsa.PrivateKey {
	var out [2]*rsa.PrivateKey
	for i := range out {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		out[i] = k
	}
	return out
})

type fixture struct {
	sb  *wechat.Server
	url string
	p   *wechatpay.Provider
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	k := keys()
	sb := wechat.New(wechat.Config{
		PlatformKey: k[0], PlatformKeyID: keyID,
		Merchants: []wechat.Merchant{{MchID: mchID, SerialNo: serial, PublicKey: &k[1].PublicKey, APIv3Key: apiV3, AppIDs: []string{appID}}},
		Apps:      []wechat.App{{AppID: appID, Secret: "s"}},
		Logger:    slog.New(slog.DiscardHandler),
		// Callbacks go nowhere in these tests; keep retries out of the way.
		RetrySchedule: []time.Duration{},
	})
	srv := httptest.NewServer(sb.Handler())
	t.Cleanup(func() { sb.Close(); srv.Close() })
	p, err := wechatpay.New(wechatpay.Config{Mode: wechatpay.ModeDirect, AppID: appID, MchID: mchID,
		MerchantSerialNo: serial, MerchantPrivateKey: k[1], APIv3Key: apiV3,
		PlatformPublicKeyID: keyID, PlatformPublicKey: &k[0].PublicKey, BaseURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{sb: sb, url: srv.URL, p: p}
}

func (f *fixture) prepay(t *testing.T, order, desc string, amount int64) pay.PrepayResult {
	t.Helper()
	res, err := f.p.Prepay(context.Background(), pay.PrepayRequest{OrderID: order, AmountFen: amount, Description: desc,
		ExpireAt: time.Now().Add(time.Hour), NotifyURL: "http://127.0.0.1:1/notify", PayerID: "oPayer"})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func get(t *testing.T, u string) (int, string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func cashierURL(base string, js map[string]string) string {
	q := url.Values{}
	for k, v := range js {
		q.Set(k, v)
	}
	return base + "/sandbox/cashier?" + q.Encode()
}

func TestCashierPayAndCancel(t *testing.T) {
	f := newFixture(t)
	res := f.prepay(t, "CASHIER_001", "<b>物业费</b>", 12345)

	st, body := get(t, cashierURL(f.url, res.JSAPI))
	if st != 200 || !strings.Contains(body, "¥123.45") || !strings.Contains(body, "&lt;b&gt;物业费&lt;/b&gt;") || strings.Contains(body, "<b>物业费") {
		t.Fatalf("cashier page %d:\n%s", st, body)
	}
	if !strings.Contains(body, "支付") || !strings.Contains(body, "取消") || !strings.Contains(body, `lang="zh-CN"`) {
		t.Fatal("cashier lacks buttons")
	}

	// A wrong paySign is refused.
	bad := map[string]string{}
	for k, v := range res.JSAPI {
		bad[k] = v
	}
	bad["nonceStr"] = "tampered"
	st, body = get(t, cashierURL(f.url, bad))
	if st != 400 || !strings.Contains(body, "paySign") || !strings.Contains(body, "get_brand_wcpay_request:fail") {
		t.Fatalf("bad paySign: %d\n%s", st, body)
	}

	post := func(action string) string {
		resp, err := http.PostForm(f.url+"/sandbox/cashier", url.Values{"prepay_id": {res.ProviderRef}, "action": {action}})
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	if b := post("cancel"); !strings.Contains(b, "get_brand_wcpay_request:cancel") {
		t.Fatalf("cancel:\n%s", b)
	}
	if tr, _ := f.p.Query(context.Background(), "CASHIER_001"); tr.State != pay.TradePending {
		t.Fatalf("cancel changed state to %s", tr.State)
	}
	if b := post("pay"); !strings.Contains(b, "get_brand_wcpay_request:ok") {
		t.Fatalf("pay:\n%s", b)
	}
	if tr, _ := f.p.Query(context.Background(), "CASHIER_001"); tr.State != pay.TradePaid {
		t.Fatalf("after pay: %s", tr.State)
	}
	if b := post("pay"); !strings.Contains(b, "get_brand_wcpay_request:fail") {
		t.Fatalf("second pay:\n%s", b)
	}
}

func TestJSBridgeShim(t *testing.T) {
	f := newFixture(t)
	resp, err := http.Get(f.url + "/sandbox/jsbridge.js")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/javascript") {
		t.Fatalf("content type %s", resp.Header.Get("Content-Type"))
	}
	for _, want := range []string{"WeixinJSBridge", "getBrandWCPayRequest", "WeixinJSBridgeReady", "/sandbox/cashier?", "iframe", "e.origin !== origin"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("shim lacks %q", want)
		}
	}
}

func TestUnsignedAndStaleRequestsAre401(t *testing.T) {
	f := newFixture(t)
	// No Authorization at all.
	st, body := get(t, f.url+"/v3/pay/transactions/out-trade-no/X123456?mchid="+mchID)
	var e struct{ Code, Message string }
	if err := json.Unmarshal([]byte(body), &e); err != nil || st != 401 || e.Code != "SIGN_ERROR" {
		t.Fatalf("unsigned: %d %s", st, body)
	}

	// Correctly signed but 10 minutes old.
	path := "/v3/pay/transactions/out-trade-no/X123456?mchid=" + mchID
	ts := time.Now().Add(-10 * time.Minute).Unix()
	msg := "GET\n" + path + "\n" + itoa(ts) + "\nNONCE\n\n"
	sum := sha256.Sum256([]byte(msg))
	sig, _ := rsa.SignPKCS1v15(rand.Reader, keys()[1], crypto.SHA256, sum[:])
	req, _ := http.NewRequest("GET", f.url+path, nil)
	req.Header.Set("Authorization", `WECHATPAY2-SHA256-RSA2048 mchid="`+mchID+`",nonce_str="NONCE",timestamp="`+itoa(ts)+
		`",serial_no="`+serial+`",signature="`+base64.StdEncoding.EncodeToString(sig)+`"`)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("stale: %d", resp.StatusCode)
	}
	// Error responses are platform-signed too.
	if resp.Header.Get("Wechatpay-Serial") != keyID || resp.Header.Get("Wechatpay-Signature") == "" || resp.Header.Get("Request-Id") == "" {
		t.Fatalf("headers %v", resp.Header)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestPayUnknownTrade(t *testing.T) {
	f := newFixture(t)
	if err := f.sb.Pay("NOPE_000001"); err == nil {
		t.Fatal("paid unknown trade")
	}
}

func TestWebViewProxy(t *testing.T) {
	var mu sync.Mutex
	var seenUA, seenHost string
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seenUA, seenHost = r.UserAgent(), r.Host
		mu.Unlock()
		switch r.URL.Path {
		case "/pay":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			body := "<!DOCTYPE html><html><HEAD><title>缴费</title></HEAD><body>ok</body></html>"
			w.Header().Set("Content-Length", itoa(int64(len(body))))
			_, _ = io.WriteString(w, body)
		case "/go":
			http.Redirect(w, r, "http://"+r.Host+"/pay?x=1", http.StatusFound)
		default:
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"html":"<head>"}`)
		}
	}))
	defer backend.Close()
	target, _ := url.Parse(backend.URL)
	proxy := httptest.NewServer(wechat.WebView(target, "http://127.0.0.1:9/sandbox/jsbridge.js"))
	defer proxy.Close()
	proxyHost := strings.TrimPrefix(proxy.URL, "http://")

	resp, err := http.Get(proxy.URL + "/pay")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	want := `<HEAD><script src="http://127.0.0.1:9/sandbox/jsbridge.js"></script><title>`
	if !strings.Contains(string(b), want) || resp.ContentLength != int64(len(b)) {
		t.Fatalf("injected page (len %d, header %d):\n%s", len(b), resp.ContentLength, b)
	}
	mu.Lock()
	if !strings.Contains(seenUA, "MicroMessenger/8.0.47") || seenHost != proxyHost {
		t.Fatalf("backend saw UA %q host %q", seenUA, seenHost)
	}
	mu.Unlock()

	// A browser that already is WeChat keeps its UA; non-HTML is untouched.
	req, _ := http.NewRequest("GET", proxy.URL+"/api", nil)
	req.Header.Set("User-Agent", "X MicroMessenger/8.0.50 Y")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	mu.Lock()
	if seenUA != "X MicroMessenger/8.0.50 Y" || string(b) != `{"html":"<head>"}` {
		t.Fatalf("UA %q body %s", seenUA, b)
	}
	mu.Unlock()

	// Redirects built from Host come back through the proxy.
	nc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err = nc.Get(proxy.URL + "/go")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); loc != proxy.URL+"/pay?x=1" {
		t.Fatalf("Location %q", loc)
	}
}
