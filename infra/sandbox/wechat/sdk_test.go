package wechat_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"testing"

	"github.com/wechatpay-apiv3/wechatpay-go/core"
	"github.com/wechatpay-apiv3/wechatpay-go/core/auth/verifiers"
	"github.com/wechatpay-apiv3/wechatpay-go/core/notify"
	"github.com/wechatpay-apiv3/wechatpay-go/core/option"
	"github.com/wechatpay-apiv3/wechatpay-go/services/payments/jsapi"
	"github.com/wechatpay-apiv3/wechatpay-go/services/payments/native"
	"github.com/wechatpay-apiv3/wechatpay-go/services/refunddomestic"

	"github.com/estatepay/estatepay/infra/sandbox/wechat"
	"github.com/estatepay/estatepay/shared/pay"
)

type toSandbox struct{ base *url.URL }

func (s toSandbox) RoundTrip(r *http.Request) (*http.Response, error) {
	r2 := r.Clone(r.Context())
	r2.URL.Scheme, r2.URL.Host, r2.Host = s.base.Scheme, s.base.Host, s.base.Host
	return http.DefaultTransport.RoundTrip(r2)
}

// sdkClient is a bare wechatpay-go client pointed at the sandbox.
func sdkClient(t *testing.T, f *fixture) *core.Client {
	t.Helper()
	base, _ := url.Parse(f.url)
	c, err := core.NewClient(context.Background(),
		option.WithWechatPayPublicKeyAuthCipher(mchID, serial, keys()[1], keyID, &keys()[0].PublicKey),
		option.WithHTTPClient(&http.Client{Transport: toSandbox{base}}))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestNativeQueryByIDAndRefundQuery(t *testing.T) {
	f := newFixture(t)
	c := sdkClient(t, f)
	ctx := context.Background()
	nat := native.NativeApiService{Client: c}
	resp, _, err := nat.Prepay(ctx, native.PrepayRequest{Appid: core.String(appID), Mchid: core.String(mchID),
		Description: core.String("车位费"), OutTradeNo: core.String("NATIVE_0001"), NotifyUrl: core.String("https://example.com/n"),
		Amount: &native.Amount{Total: core.Int64(300)}})
	if err != nil || resp.CodeUrl == nil || len(*resp.CodeUrl) < 20 {
		t.Fatalf("native prepay: %v %v", resp, err)
	}
	if err := f.sb.Pay("NATIVE_0001"); err != nil {
		t.Fatal(err)
	}
	tr, err := f.p.Query(ctx, "NATIVE_0001")
	if err != nil || tr.State != pay.TradePaid {
		t.Fatalf("%+v %v", tr, err)
	}
	js := jsapi.JsapiApiService{Client: c}
	byID, _, err := js.QueryOrderById(ctx, jsapi.QueryOrderByIdRequest{TransactionId: core.String(tr.ProviderTxnID), Mchid: core.String(mchID)})
	if err != nil || *byID.OutTradeNo != "NATIVE_0001" || *byID.TradeType != "NATIVE" || *byID.Amount.Total != 300 {
		t.Fatalf("query by id: %v %v", byID, err)
	}
	if _, _, err := js.QueryOrderById(ctx, jsapi.QueryOrderByIdRequest{TransactionId: core.String("4200000000000000000000000000"), Mchid: core.String(mchID)}); !core.IsAPIError(err, "ORDER_NOT_EXIST") {
		t.Fatalf("unknown id: %v", err)
	}

	if _, err := f.p.Refund(ctx, pay.RefundRequest{OrderID: "NATIVE_0001", RefundID: "RN1", AmountFen: 100, TotalFen: 300}); err != nil {
		t.Fatal(err)
	}
	rs := refunddomestic.RefundsApiService{Client: c}
	r, _, err := rs.QueryByOutRefundNo(ctx, refunddomestic.QueryByOutRefundNoRequest{OutRefundNo: core.String("RN1")})
	if err != nil || *r.Status != refunddomestic.STATUS_SUCCESS || *r.Amount.Refund != 100 || *r.OutTradeNo != "NATIVE_0001" {
		t.Fatalf("refund query: %v %v", r, err)
	}
	if _, _, err := rs.QueryByOutRefundNo(ctx, refunddomestic.QueryByOutRefundNoRequest{OutRefundNo: core.String("RN404")}); !core.IsAPIError(err, "RESOURCE_NOT_EXISTS") {
		t.Fatalf("unknown refund: %v", err)
	}

	// Closing through the SDK gets a signed 204.
	if _, _, err := nat.Prepay(ctx, native.PrepayRequest{Appid: core.String(appID), Mchid: core.String(mchID),
		Description: core.String("x"), OutTradeNo: core.String("NATIVE_0002"), NotifyUrl: core.String("https://example.com/n"),
		Amount: &native.Amount{Total: core.Int64(1)}}); err != nil {
		t.Fatal(err)
	}
	res, err := nat.CloseOrder(ctx, native.CloseOrderRequest{OutTradeNo: core.String("NATIVE_0002"), Mchid: core.String(mchID)})
	if err != nil || res.Response.StatusCode != http.StatusNoContent {
		t.Fatalf("close: %v", err)
	}
}

// The refund notification verifies and decrypts with the SDK's own notify
// handler, independently of the adapter, and the refund API answers like WeChat.
func TestRefundNotificationWithSDKNotifyHandler(t *testing.T) {
	f := newFixture(t)
	c := sdkClient(t, f)
	ctx := context.Background()
	f.prepay(t, "REFUND_SDK_1", "物业费", 1000)
	if err := f.sb.Pay("REFUND_SDK_1"); err != nil {
		t.Fatal(err)
	}
	rs := refunddomestic.RefundsApiService{Client: c}
	create := func(no string, fen int64, notifyURL string) (*refunddomestic.Refund, error) {
		r := refunddomestic.CreateRequest{OutTradeNo: core.String("REFUND_SDK_1"), OutRefundNo: core.String(no),
			Amount: &refunddomestic.AmountReq{Refund: core.Int64(fen), Total: core.Int64(1000), Currency: core.String("CNY")}}
		if notifyURL != "" {
			r.NotifyUrl = core.String(notifyURL)
		}
		resp, _, err := rs.Create(ctx, r)
		return resp, err
	}
	if _, err := create("RS_BAD", 100, "https://example.com/n?x=1"); !core.IsAPIError(err, "PARAM_ERROR") {
		t.Fatalf("notify_url with a query: %v", err)
	}
	r, err := create("RS_1", 600, "https://example.com/refund-notify")
	if err != nil || *r.Status != refunddomestic.STATUS_SUCCESS || r.SuccessTime == nil || *r.Amount.Refund != 600 {
		t.Fatalf("refund: %v %v", r, err)
	}
	if _, err := create("RS_2", 401, ""); !core.IsAPIError(err, "INVALID_REQUEST") {
		t.Fatalf("over-refund: %v", err)
	}
	f.sb.SetRefundOutcome("RS_3", wechat.RefundClosed)
	r3, err := create("RS_3", 400, "")
	if err != nil || *r3.Status != refunddomestic.STATUS_PROCESSING || r3.SuccessTime != nil {
		t.Fatalf("refund to be closed: %v %v", r3, err)
	}
	q, _, err := rs.QueryByOutRefundNo(ctx, refunddomestic.QueryByOutRefundNoRequest{OutRefundNo: core.String("RS_3")})
	if err != nil || *q.Status != refunddomestic.STATUS_CLOSED {
		t.Fatalf("closed refund query: %v %v", q, err)
	}
	// The closed 400 is refundable again.
	if _, err := create("RS_4", 400, ""); err != nil {
		t.Fatalf("refund after a closed one: %v", err)
	}

	handler, err := notify.NewRSANotifyHandler(apiV3, verifiers.NewSHA256WithRSAPubkeyVerifier(keyID, keys()[0].PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	req, err := f.sb.SignedRefundNotification(ctx, "RS_1", wechat.NotifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if req.URL.String() != "https://example.com/refund-notify" {
		t.Fatalf("notification goes to %s", req.URL)
	}
	var plain map[string]any
	n, err := handler.ParseNotifyRequest(ctx, req, &plain)
	if err != nil {
		t.Fatal(err)
	}
	amount, _ := plain["amount"].(map[string]any)
	if n.EventType != "REFUND.SUCCESS" || n.ResourceType != "encrypt-resource" || n.Resource.OriginalType != "refund" || n.Summary != "退款成功" ||
		plain["mchid"] != mchID || plain["out_refund_no"] != "RS_1" || plain["refund_id"] != *r.RefundId || plain["refund_status"] != "SUCCESS" ||
		plain["out_trade_no"] != "REFUND_SDK_1" || plain["success_time"] == nil || amount["refund"] != 600.0 || amount["total"] != 1000.0 {
		t.Fatalf("refund notification %+v %v", n, plain)
	}
	closed, err := f.sb.SignedRefundNotification(ctx, "RS_3", wechat.NotifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	plain = nil
	if n, err := handler.ParseNotifyRequest(ctx, closed, &plain); err != nil || n.EventType != "REFUND.CLOSED" || plain["refund_status"] != "CLOSED" || plain["success_time"] != nil {
		t.Fatalf("closed notification %+v %v %v", n, plain, err)
	}
	if _, err := f.sb.SignedRefundNotification(ctx, "RS_404", wechat.NotifyOptions{}); !errors.Is(err, wechat.ErrRefundNotFound) {
		t.Fatalf("unknown refund: %v", err)
	}
}
