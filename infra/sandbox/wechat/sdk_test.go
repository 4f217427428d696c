package wechat_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	"github.com/wechatpay-apiv3/wechatpay-go/core"
	"github.com/wechatpay-apiv3/wechatpay-go/core/option"
	"github.com/wechatpay-apiv3/wechatpay-go/services/payments/jsapi"
	"github.com/wechatpay-apiv3/wechatpay-go/services/payments/native"
	"github.com/wechatpay-apiv3/wechatpay-go/services/refunddomestic"

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
