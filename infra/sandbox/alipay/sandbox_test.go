package alipay

import (
	"github.com/estatepay/estatepay/shared/domain"

	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	sdk "github.com/smartwalle/alipay/v3"
)

var (
	keyOnce        sync.Once
	appKey, aliKey *rsa.PrivateKey
)

type harness struct {
	s      *Server
	ts     *httptest.Server
	client *sdk.Client
	now    time.Time
	mu     sync.Mutex
}

func (h *harness) clock() time.Time { h.mu.Lock(); defer h.mu.Unlock(); return h.now }
func (h *harness) advance(d time.Duration) {
	h.mu.Lock()
	h.now = h.now.Add(d)
	h.mu.Unlock()
}

func newHarness(t *testing.T, mutate func(*Config)) *harness {
	t.Helper()
	keyOnce.Do(func() {
		appKey, _ = rsa.GenerateKey(rand.Reader, 2048)
		aliKey, _ = rsa.GenerateKey(rand.Reader, 2048)
	})
	h := &harness{now: time.Date(2025, 1, 2, 9, 0, 0, 0, cst)}
	cfg := Config{AlipayKey: aliKey, Apps: []App{{AppID: "2021001", PublicKey: &appKey.PublicKey, SellerID: "2088001"}}, Now: h.clock}
	if mutate != nil {
		mutate(&cfg)
	}
	h.s = New(cfg)
	h.ts = httptest.NewServer(h.s.Handler())
	h.s.SetBaseURL(h.ts.URL)
	t.Cleanup(func() { h.ts.Close(); h.s.Close() })
	der, _ := x509.MarshalPKCS8PrivateKey(appKey)
	c, err := sdk.New("2021001", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})), true,
		sdk.WithProductionGateway(h.ts.URL+"/gateway.do"), sdk.WithHTTPClient(h.ts.Client()))
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := x509.MarshalPKIXPublicKey(&aliKey.PublicKey)
	if err := c.LoadAliPayPublicKey(string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}))); err != nil {
		t.Fatal(err)
	}
	h.client = c
	return h
}

func (h *harness) open(t *testing.T, p sdk.TradeWapPay) string {
	t.Helper()
	u, err := h.client.TradeWapPay(p)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func wap(out, amount string) sdk.TradeWapPay {
	return sdk.TradeWapPay{Trade: sdk.Trade{Subject: "物业费", OutTradeNo: out, TotalAmount: amount, ProductCode: "QUICK_WAP_WAY"}}
}

func TestResponseSignedOverExactObjectBytes(t *testing.T) {
	h := newHarness(t, nil)
	h.open(t, wap("T1", "1.00"))
	values, err := h.client.URLValues(sdk.TradeQuery{OutTradeNo: "T1"})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.PostForm(h.ts.URL+"/gateway.do", values)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	obj, sig := raw["alipay_trade_query_response"], raw["sign"]
	if len(obj) == 0 || len(sig) < 3 {
		t.Fatalf("response shape: %s", body)
	}
	var s string
	_ = json.Unmarshal(sig, &s)
	if err := verifyRSA2(&aliKey.PublicKey, obj, s); err != nil {
		t.Fatalf("sign does not cover the object bytes: %v", err)
	}
	if !strings.Contains(string(obj), `"trade_status":"WAIT_BUYER_PAY"`) || !strings.HasPrefix(string(obj), `{"code":"10000","msg":"Success"`) {
		t.Fatalf("object: %s", obj)
	}
	// And the SDK accepts it.
	rsp, err := h.client.TradeQuery(context.Background(), sdk.TradeQuery{OutTradeNo: "T1"})
	if err != nil || !rsp.IsSuccess() || rsp.TotalAmount != "1.00" {
		t.Fatalf("SDK query: %+v, %v", rsp, err)
	}
}

func TestGatewayRejectsUnauthenticatedCalls(t *testing.T) {
	h := newHarness(t, nil)
	values, _ := h.client.URLValues(sdk.TradeQuery{OutTradeNo: "T1"})
	for name, mutate := range map[string]func(url.Values){
		"missing sign":  func(v url.Values) { v.Del("sign") },
		"tampered biz":  func(v url.Values) { v.Set("biz_content", `{"out_trade_no":"T2"}`) },
		"bad sign_type": func(v url.Values) { v.Set("sign_type", "RSA") },
		"unknown app":   func(v url.Values) { v.Set("app_id", "2021999") },
	} {
		v := url.Values{}
		for k, vs := range values {
			v[k] = append([]string(nil), vs...)
		}
		mutate(v)
		resp, err := http.PostForm(h.ts.URL+"/gateway.do", v)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var raw map[string]json.RawMessage
		_ = json.Unmarshal(body, &raw)
		var e apiError
		_ = json.Unmarshal(raw["alipay_trade_query_response"], &e)
		if _, signed := raw["sign"]; signed || (e.Code != "40001" && e.Code != "40002") {
			t.Errorf("%s: %s", name, body)
		}
	}
}

func TestCashierValidatesAndAcceptsPOST(t *testing.T) {
	h := newHarness(t, nil)
	for _, bad := range []sdk.TradeWapPay{wap("T1", "12.345"), wap("T1", "0.00"), wap("T 1", "1.00"), wap("T1", "-1")} {
		if page := h.open(t, bad); !strings.Contains(page, "ACQ.INVALID_PARAMETER") {
			t.Errorf("%+v accepted: %s", bad.Trade, page)
		}
	}
	noProduct := wap("T1", "1.00")
	noProduct.ProductCode = ""
	if page := h.open(t, noProduct); !strings.Contains(page, "ACQ.INVALID_PARAMETER") {
		t.Error("missing product_code accepted")
	}
	// A browser form POST to the gateway (Alipay's pageExecute style) works too.
	values, _ := h.client.URLValues(wap("T1", "1.00"))
	resp, err := http.PostForm(h.ts.URL+"/gateway.do", values)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `id="pay"`) || !strings.Contains(string(body), "¥1.00") {
		t.Fatalf("POST cashier: %s", body)
	}
	// Reopening with a different amount is tampering.
	if page := h.open(t, wap("T1", "2.00")); !strings.Contains(page, "ACQ.CONTEXT_INCONSISTENT") {
		t.Fatalf("amount change accepted: %s", page)
	}
}

func TestNotificationFormVerifiesWithSDK(t *testing.T) {
	h := newHarness(t, nil)
	h.open(t, wap("T1", "3.21"))
	if err := h.s.Pay("T1"); err != nil {
		t.Fatal(err)
	}
	n, err := h.s.NotificationFor("T1")
	if err != nil {
		t.Fatal(err)
	}
	form, err := n.Form(aliKey)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range form {
		if len(v) != 1 || v[0] == "" {
			t.Errorf("param %s = %q: Alipay sends no empty values", k, v)
		}
	}
	dec, err := h.client.DecodeNotification(form)
	if err != nil {
		t.Fatalf("SDK rejects the notification: %v", err)
	}
	if dec.TotalAmount != "3.21" || dec.TradeStatus != sdk.TradeStatusSuccess || dec.SellerId != "2088001" || dec.NotifyType != "trade_status_sync" {
		t.Fatalf("decoded: %+v", dec)
	}
	if _, err := h.s.NotificationFor("nope"); err != ErrTradeNotFound {
		t.Fatalf("unknown trade: %v", err)
	}
}

func TestCloseStopsPendingRetries(t *testing.T) {
	attempts := make(chan Delivery, 8)
	h := newHarness(t, func(c *Config) {
		c.RetrySchedule = []time.Duration{time.Hour}
		c.OnDelivery = func(d Delivery) { attempts <- d }
	})
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no", 500) }))
	defer down.Close()
	p := wap("T1", "1.00")
	p.NotifyURL = down.URL
	h.open(t, p)
	if err := h.s.Pay("T1"); err != nil {
		t.Fatal(err)
	}
	if d := <-attempts; d.Attempt != 1 || d.Acked || d.GaveUp {
		t.Fatalf("first attempt: %+v", d)
	}
	h.s.Close() // must return without waiting an hour
	select {
	case d := <-attempts:
		t.Fatalf("delivery after Close: %+v", d)
	default:
	}
}

func TestBillLinkExpires(t *testing.T) {
	h := newHarness(t, nil)
	rsp, err := h.client.BillDownloadURLQuery(context.Background(), sdk.BillDownloadURLQuery{BillType: "trade", BillDate: "2025-01-01"})
	if err != nil || !rsp.IsSuccess() {
		t.Fatalf("%+v %v", rsp, err)
	}
	h.advance(31 * time.Second)
	resp, err := http.Get(rsp.BillDownloadURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("expired link: HTTP %d", resp.StatusCode)
	}
	for _, p := range []sdk.BillDownloadURLQuery{{BillType: "signcustomer", BillDate: "2025-01-01"}, {BillType: "trade", BillDate: "2025/01/01"}} {
		if rsp, err := h.client.BillDownloadURLQuery(context.Background(), p); err != nil || rsp.IsSuccess() {
			t.Errorf("%+v: %+v %v", p, rsp, err)
		}
	}
}

func TestAmounts(t *testing.T) {
	for s, want := range map[string]int64{"0.01": 1, "1": 100, "1.5": 150, "100000000.00": maxAmountFen} {
		if got, err := domain.ParseYuan(s); err != nil || got != want {
			t.Errorf("domain.ParseYuan(%q) = %d, %v", s, got, err)
		}
	}
	for _, s := range []string{"", "1.", ".1", "1.234", "-1", "1e3", "1 "} {
		if _, err := domain.ParseYuan(s); err == nil {
			t.Errorf("domain.ParseYuan(%q) accepted", s)
		}
	}
	if domain.FormatYuan(5) != "0.05" || domain.FormatYuan(-1234) != "-12.34" || domain.FormatYuan(100) != "1.00" {
		t.Error("formatYuan")
	}
}

// Two registrations of one app_id with different keys: a request signed with
// the first key must not be accepted for the second registration's token.
func TestGatewayTokenNeedsTheVerifyingKey(t *testing.T) {
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, func(c *Config) {
		c.Apps = []App{
			{AppID: "2021001", PublicKey: &appKey.PublicKey, SellerID: "2088001", AuthTokens: []string{"tok-a"}},
			{AppID: "2021001", PublicKey: &other.PublicKey, SellerID: "2088002", AuthTokens: []string{"tok-b"}},
		}
	})
	for token, wantOK := range map[string]bool{"tok-a": true, "tok-b": false} {
		values, err := h.client.URLValues(sdk.TradeQuery{OutTradeNo: "T1", AppAuthToken: token})
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.PostForm(h.ts.URL+"/gateway.do", values)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var raw map[string]json.RawMessage
		_ = json.Unmarshal(body, &raw)
		var e apiError
		_ = json.Unmarshal(raw["alipay_trade_query_response"], &e)
		if wantOK && e.SubCode != "ACQ.TRADE_NOT_EXIST" {
			t.Errorf("%s: want the call authenticated (trade not exist), got %s", token, body)
		}
		if !wantOK && e.SubCode != "isv.invalid-signature" && e.SubCode != "aop.invalid-app-auth-token" {
			t.Errorf("%s: signed with the other app's key but accepted: %s", token, body)
		}
	}
}

func TestRefundsThroughSDK(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	h.open(t, wap("T1", "10.00"))
	if err := h.s.Pay("T1"); err != nil {
		t.Fatal(err)
	}
	refund := func(no, amount string) *sdk.TradeRefundRsp {
		t.Helper()
		rsp, err := h.client.TradeRefund(ctx, sdk.TradeRefund{OutTradeNo: "T1", RefundAmount: amount, OutRequestNo: no})
		if err != nil {
			t.Fatal(err)
		}
		return rsp
	}
	if r := refund("R1", "4.00"); !r.IsSuccess() || r.FundChange != "Y" || r.RefundFee != "4.00" {
		t.Fatalf("first partial: %+v", r)
	}
	h.advance(time.Minute)
	if r := refund("R2", "5.00"); !r.IsSuccess() || r.FundChange != "Y" || r.RefundFee != "9.00" {
		t.Fatalf("second partial: %+v", r)
	}
	// Same out_request_no: no money moves again.
	if r := refund("R1", "4.00"); !r.IsSuccess() || r.FundChange != "N" || r.RefundFee != "9.00" {
		t.Fatalf("repeat: %+v", r)
	}
	if r := refund("R1", "3.00"); r.SubCode != "ACQ.DISCORDANT_REPEAT_REQUEST" {
		t.Fatalf("repeat with another amount: %+v", r)
	}
	if r := refund("R3", "1.01"); r.IsSuccess() || r.SubCode != "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL" {
		t.Fatalf("past the refundable amount: %+v", r)
	}

	query := func(no string, options ...string) *sdk.TradeFastPayRefundQueryRsp {
		t.Helper()
		rsp, err := h.client.TradeFastPayRefundQuery(ctx, sdk.TradeFastPayRefundQuery{OutTradeNo: "T1", OutRequestNo: no, QueryOptions: options})
		if err != nil || !rsp.IsSuccess() {
			t.Fatalf("refund query %s: %+v %v", no, rsp, err)
		}
		return rsp
	}
	q := query("R2", "gmt_refund_pay")
	if q.RefundStatus != "REFUND_SUCCESS" || q.RefundAmount != "5.00" || q.TotalAmount != "10.00" || q.OutRequestNo != "R2" ||
		q.GMTRefundPay != h.clock().Format(timeLayout) {
		t.Fatalf("refund query: %+v", q)
	}
	if q := query("R1"); q.RefundStatus != "REFUND_SUCCESS" || q.RefundAmount != "4.00" || q.GMTRefundPay != "" {
		t.Fatalf("refund query without query_options: %+v", q)
	}
	if q := query("R3"); q.RefundStatus != "" || q.RefundAmount != "" || q.OutRequestNo != "" {
		t.Fatalf("refused refund: %+v", q)
	}
}
