package wechatpay_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/wechatpay-apiv3/wechatpay-go/core"

	"github.com/estatepay/estatepay/infra/sandbox/wechat"
	"github.com/estatepay/estatepay/shared/pay"
	"github.com/estatepay/estatepay/shared/pay/wechatpay"
)

// apiCode is the WeChat error code an adapter error carries.
func apiCode(err error) string {
	var ae *core.APIError
	if errors.As(err, &ae) {
		return ae.Code
	}
	return ""
}

func TestPartialRefundsAndNotifications(t *testing.T) {
	e := newEnv(t, wechatpay.ModeDirect, nil)
	ctx := context.Background()
	const order = "REFUND_00001"
	e.paid(t, order, 10000)
	refund := func(id string, fen int64) (pay.RefundResult, error) {
		return e.p.Refund(ctx, pay.RefundRequest{OrderID: order, RefundID: id, AmountFen: fen, TotalFen: 10000, Reason: "重复缴费", NotifyURL: e.refundNotifyURL})
	}

	r1, err := refund("RF_A", 3000)
	if err != nil || r1.State != pay.RefundSuccess || r1.Status != "SUCCESS" || r1.AmountFen != 3000 || r1.ProviderRefundID == "" || r1.SucceededAt.IsZero() {
		t.Fatalf("first refund: %+v %v", r1, err)
	}
	got := e.nextRefund(t)
	if got.err != nil {
		t.Fatalf("ParseRefundNotification: %v", got.err)
	}
	n := got.n
	if n.OrderID != order || n.RefundID != "RF_A" || n.ProviderRefundID != r1.ProviderRefundID || n.State != pay.RefundSuccess ||
		n.AmountFen != 3000 || n.TotalFen != 10000 || n.MerchantID != directMchID || n.EventID == "" || !n.SucceededAt.Equal(r1.SucceededAt) {
		t.Fatalf("refund notification %+v (refund %+v)", n, r1)
	}

	r2, err := refund("RF_B", 5000)
	if err != nil || r2.State != pay.RefundSuccess || r2.ProviderRefundID == r1.ProviderRefundID {
		t.Fatalf("second refund: %+v %v", r2, err)
	}
	if got := e.nextRefund(t); got.err != nil || got.n.RefundID != "RF_B" || got.n.AmountFen != 5000 {
		t.Fatalf("second notification: %+v", got)
	}

	// 2000 fen are left: 2001 is refused with WeChat's code, and nothing is notified.
	_, err = refund("RF_C", 2001)
	if !errors.Is(err, pay.ErrProvider) || apiCode(err) != "INVALID_REQUEST" {
		t.Fatalf("over-refund: %v", err)
	}
	// The same out_refund_no again is the same refund, not another one.
	again, err := refund("RF_A", 3000)
	if err != nil || again.ProviderRefundID != r1.ProviderRefundID || again.State != pay.RefundSuccess {
		t.Fatalf("replayed refund: %+v %v", again, err)
	}
	// ... and with another amount it is refused.
	if _, err := refund("RF_A", 2000); apiCode(err) != "INVALID_REQUEST" {
		t.Fatalf("replay with another amount: %v", err)
	}
	// The rest can still go back, exactly.
	if r3, err := refund("RF_D", 2000); err != nil || r3.State != pay.RefundSuccess {
		t.Fatalf("refund of the rest: %+v %v", r3, err)
	}
	if got := e.nextRefund(t); got.err != nil || got.n.RefundID != "RF_D" {
		t.Fatalf("third notification: %+v", got)
	}
	if _, err := refund("RF_E", 1); apiCode(err) != "INVALID_REQUEST" {
		t.Fatalf("refund past the total: %v", err)
	}
	select {
	case extra := <-e.refunds:
		t.Fatalf("refused or replayed refunds were notified: %+v", extra)
	default:
	}

	q, err := e.p.QueryRefund(ctx, order, "RF_B")
	if err != nil || q.State != pay.RefundSuccess || q.AmountFen != 5000 || q.ProviderRefundID != r2.ProviderRefundID || q.SucceededAt.IsZero() {
		t.Fatalf("QueryRefund: %+v %v", q, err)
	}
	if _, err := e.p.QueryRefund(ctx, order, "RF_C"); !errors.Is(err, pay.ErrRefundNotFound) {
		t.Fatalf("refused refund is unknown: %v", err)
	}
	if _, err := e.p.QueryRefund(ctx, "REFUND_OTHER", "RF_B"); !errors.Is(err, pay.ErrProvider) || errors.Is(err, pay.ErrRefundNotFound) {
		t.Fatalf("refund of another order: %v", err)
	}
}

func TestRefundOutcomes(t *testing.T) {
	e := newEnv(t, wechatpay.ModeDirect, nil)
	ctx := context.Background()
	const order = "REFUND_00002"
	e.paid(t, order, 1000)
	req := func(id string, fen int64) pay.RefundRequest {
		return pay.RefundRequest{OrderID: order, RefundID: id, AmountFen: fen, TotalFen: 1000, NotifyURL: e.refundNotifyURL}
	}

	// ABNORMAL: accepted as PROCESSING, then notified and queried as ABNORMAL.
	e.sb.SetRefundOutcome("RF_ABN", wechat.RefundAbnormal)
	r, err := e.p.Refund(ctx, req("RF_ABN", 400))
	if err != nil || r.State != pay.RefundProcessing || !r.SucceededAt.IsZero() {
		t.Fatalf("abnormal refund: %+v %v", r, err)
	}
	if got := e.nextRefund(t); got.err != nil || got.n.State != pay.RefundAbnormal || got.n.RefundID != "RF_ABN" || !got.n.SucceededAt.IsZero() {
		t.Fatalf("abnormal notification: %+v", got)
	}
	if q, err := e.p.QueryRefund(ctx, order, "RF_ABN"); err != nil || q.State != pay.RefundAbnormal || q.AmountFen != 400 {
		t.Fatalf("abnormal query: %+v %v", q, err)
	}

	// CLOSED: the money did not go back, so it stays refundable.
	e.sb.SetRefundOutcome("RF_CLO", wechat.RefundClosed)
	if r, err := e.p.Refund(ctx, req("RF_CLO", 600)); err != nil || r.State != pay.RefundProcessing {
		t.Fatalf("closed refund: %+v %v", r, err)
	}
	if got := e.nextRefund(t); got.err != nil || got.n.State != pay.RefundClosed || got.n.AmountFen != 600 {
		t.Fatalf("closed notification: %+v", got)
	}
	if q, err := e.p.QueryRefund(ctx, order, "RF_CLO"); err != nil || q.State != pay.RefundClosed {
		t.Fatalf("closed query: %+v %v", q, err)
	}

	// PROCESSING until the sandbox settles it.
	e.sb.SetRefundOutcome("RF_PRO", wechat.RefundProcessing)
	if r, err := e.p.Refund(ctx, req("RF_PRO", 600)); err != nil || r.State != pay.RefundProcessing {
		t.Fatalf("processing refund: %+v %v", r, err)
	}
	if q, err := e.p.QueryRefund(ctx, order, "RF_PRO"); err != nil || q.State != pay.RefundProcessing || !q.SucceededAt.IsZero() {
		t.Fatalf("processing query: %+v %v", q, err)
	}
	if _, err := e.sb.SignedRefundNotification(ctx, "RF_PRO", wechat.NotifyOptions{}); !errors.Is(err, wechat.ErrRefundState) {
		t.Fatalf("notification of a processing refund: %v", err)
	}
	// 400 (abnormal) + 600 (processing) of 1000 are spoken for; the closed 600 is not.
	if _, err := e.p.Refund(ctx, req("RF_MORE", 1)); apiCode(err) != "INVALID_REQUEST" {
		t.Fatalf("refund past what is spoken for: %v", err)
	}
	if err := e.sb.SettleRefund("RF_PRO", wechat.RefundSuccess); err != nil {
		t.Fatal(err)
	}
	if err := e.sb.SettleRefund("RF_PRO", wechat.RefundClosed); !errors.Is(err, wechat.ErrRefundState) {
		t.Fatalf("settling twice: %v", err)
	}
	if err := e.sb.SettleRefund("RF_NONE", wechat.RefundSuccess); !errors.Is(err, wechat.ErrRefundNotFound) {
		t.Fatalf("settling an unknown refund: %v", err)
	}
	got := e.nextRefund(t)
	if got.err != nil || got.n.State != pay.RefundSuccess || got.n.RefundID != "RF_PRO" || got.n.SucceededAt.IsZero() {
		t.Fatalf("settled notification: %+v", got)
	}
	if q, err := e.p.QueryRefund(ctx, order, "RF_PRO"); err != nil || q.State != pay.RefundSuccess || !q.SucceededAt.Equal(got.n.SucceededAt) {
		t.Fatalf("settled query: %+v %v", q, err)
	}
}

func TestRefundNotificationRejections(t *testing.T) {
	e := newEnv(t, wechatpay.ModeDirect, nil)
	ctx := context.Background()
	const order = "REFUND_00003"
	e.paid(t, order, 900)
	if _, err := e.p.Refund(ctx, pay.RefundRequest{OrderID: order, RefundID: "RF_X", AmountFen: 300, TotalFen: 900, NotifyURL: e.refundNotifyURL}); err != nil {
		t.Fatal(err)
	}
	if got := e.nextRefund(t); got.err != nil {
		t.Fatal(got.err)
	}
	parse := func(o wechat.NotifyOptions) (pay.RefundNotification, error) {
		req, err := e.sb.SignedRefundNotification(ctx, "RF_X", o)
		if err != nil {
			t.Fatal(err)
		}
		return e.p.ParseRefundNotification(ctx, req)
	}
	if n, err := parse(wechat.NotifyOptions{EventID: "evt-r1"}); err != nil || n.EventID != "evt-r1" || n.RefundID != "RF_X" || n.AmountFen != 300 {
		t.Fatalf("genuine: %+v %v", n, err)
	}

	cases := []struct {
		name string
		o    wechat.NotifyOptions
		want error
	}{
		{"forged signature", wechat.NotifyOptions{SigningKey: keys().other}, pay.ErrBadSignature},
		{"ciphertext tampered in transit", wechat.NotifyOptions{TamperAfterSign: true}, pay.ErrBadSignature},
		{"tampered ciphertext re-signed", wechat.NotifyOptions{TamperCiphertext: true}, pay.ErrBadSignature},
		{"stale timestamp", wechat.NotifyOptions{Timestamp: time.Now().Add(-6 * time.Minute)}, pay.ErrStaleTimestamp},
		{"future timestamp", wechat.NotifyOptions{Timestamp: time.Now().Add(6 * time.Minute)}, pay.ErrStaleTimestamp},
		{"wrong key id", wechat.NotifyOptions{KeyID: "PUB_KEY_ID_0000000000000000000000000000000000"}, pay.ErrBadSignature},
		{"wrong apiv3 key", wechat.NotifyOptions{APIv3Key: "ffffffffffffffffffffffffffffffff"}, pay.ErrBadSignature},
		{"event disagrees with status", wechat.NotifyOptions{EventType: "REFUND.CLOSED"}, pay.ErrMalformed},
		{"unknown event", wechat.NotifyOptions{EventType: "REFUND.MAYBE"}, pay.ErrMalformed},
		{"another merchant", wechat.NotifyOptions{Refund: func(m map[string]any) { m["mchid"] = "1900000999" }}, pay.ErrMalformed},
		{"no merchant", wechat.NotifyOptions{Refund: func(m map[string]any) { delete(m, "mchid") }}, pay.ErrMalformed},
		{"refund above total", wechat.NotifyOptions{Refund: func(m map[string]any) {
			m["amount"] = map[string]any{"total": 900, "refund": 901, "payer_total": 900, "payer_refund": 901}
		}}, pay.ErrMalformed},
		{"no out_refund_no", wechat.NotifyOptions{Refund: func(m map[string]any) { delete(m, "out_refund_no") }}, pay.ErrMalformed},
		{"bad success_time", wechat.NotifyOptions{Refund: func(m map[string]any) { m["success_time"] = "yesterday" }}, pay.ErrMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if n, err := parse(c.o); !errors.Is(err, c.want) {
				t.Fatalf("got %+v %v, want %v", n, err, c.want)
			}
		})
	}

	t.Run("body replaced", func(t *testing.T) {
		req, _ := e.sb.SignedRefundNotification(ctx, "RF_X", wechat.NotifyOptions{})
		req.Body = io.NopCloser(bytes.NewReader([]byte(`{"id":"x"}`)))
		if _, err := e.p.ParseRefundNotification(ctx, req); !errors.Is(err, pay.ErrBadSignature) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("missing nonce header", func(t *testing.T) {
		req, _ := e.sb.SignedRefundNotification(ctx, "RF_X", wechat.NotifyOptions{})
		req.Header.Del("Wechatpay-Nonce")
		if _, err := e.p.ParseRefundNotification(ctx, req); !errors.Is(err, pay.ErrBadSignature) {
			t.Fatalf("got %v", err)
		}
	})
	// A genuine payment callback is not a refund notification, and the other way round.
	t.Run("payment callback as refund", func(t *testing.T) {
		req, err := e.sb.SignedNotification(ctx, order, wechat.NotifyOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.p.ParseRefundNotification(ctx, req); !errors.Is(err, pay.ErrMalformed) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("refund notification as payment", func(t *testing.T) {
		req, _ := e.sb.SignedRefundNotification(ctx, "RF_X", wechat.NotifyOptions{})
		if _, err := e.p.ParseNotification(ctx, req); !errors.Is(err, pay.ErrMalformed) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("partner interface refuses a direct merchant's refund", func(t *testing.T) {
		cfg := e.cfg
		cfg.Mode, cfg.SpAppID, cfg.SpMchID, cfg.SubMchID = wechatpay.ModePartner, spAppID, spMchID, subMchID
		p, err := wechatpay.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		req, _ := e.sb.SignedRefundNotification(ctx, "RF_X", wechat.NotifyOptions{})
		if _, err := p.ParseRefundNotification(ctx, req); !errors.Is(err, pay.ErrMalformed) {
			t.Fatalf("got %v", err)
		}
	})
}

func TestPartnerRefund(t *testing.T) {
	e := newEnv(t, wechatpay.ModePartner, nil)
	ctx := context.Background()
	const order = "PREFUND_0001"
	e.paid(t, order, 800)
	r, err := e.p.Refund(ctx, pay.RefundRequest{OrderID: order, RefundID: "PRF_1", AmountFen: 800, TotalFen: 800, NotifyURL: e.refundNotifyURL})
	if err != nil || r.State != pay.RefundSuccess {
		t.Fatalf("partner refund: %+v %v", r, err)
	}
	got := e.nextRefund(t)
	if got.err != nil || got.n.MerchantID != subMchID || got.n.RefundID != "PRF_1" || got.n.AmountFen != 800 {
		t.Fatalf("partner refund notification: %+v", got)
	}
	if q, err := e.p.QueryRefund(ctx, order, "PRF_1"); err != nil || q.State != pay.RefundSuccess || q.AmountFen != 800 {
		t.Fatalf("partner refund query: %+v %v", q, err)
	}
	// The sub-merchant's refund must name the service provider too.
	req, _ := e.sb.SignedRefundNotification(ctx, "PRF_1", wechat.NotifyOptions{Refund: func(m map[string]any) { m["sp_mchid"] = "1900000999" }})
	if _, err := e.p.ParseRefundNotification(ctx, req); !errors.Is(err, pay.ErrMalformed) {
		t.Fatalf("other service provider: %v", err)
	}
}

func TestRefundNotificationRetries(t *testing.T) {
	e := newEnv(t, wechatpay.ModeDirect, []time.Duration{time.Millisecond, time.Millisecond, time.Millisecond})
	e.paid(t, "REFUND_00004", 100) // callback 1, answered 200
	e.mu.Lock()
	e.status = func(n int) int {
		if n == 2 { // the refund notification's first attempt
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	}
	e.mu.Unlock()
	deliveries, stop := e.sb.Subscribe()
	defer stop()
	if _, err := e.p.Refund(context.Background(), pay.RefundRequest{OrderID: "REFUND_00004", RefundID: "RF_RETRY", AmountFen: 100, TotalFen: 100, NotifyURL: e.refundNotifyURL}); err != nil {
		t.Fatal(err)
	}
	var got []wechat.Delivery
	for len(got) == 0 || !got[len(got)-1].Final {
		select {
		case d := <-deliveries:
			if d.OutRefundNo != "" { // the payment's own delivery may be recorded after e.paid returned
				got = append(got, d)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("deliveries so far: %+v", got)
		}
	}
	if len(got) != 2 || got[0].OK || got[0].Status != 503 || !got[1].OK || got[1].Attempt != 2 ||
		got[1].EventType != "REFUND.SUCCESS" || got[1].OutRefundNo != "RF_RETRY" || got[1].OutTradeNo != "REFUND_00004" || got[0].EventID != got[1].EventID {
		t.Fatalf("deliveries %+v", got)
	}
	for i := 0; i < 2; i++ {
		if p := e.nextRefund(t); p.err != nil || p.n.EventID != got[0].EventID {
			t.Fatalf("attempt %d: %+v", i+1, p)
		}
	}
}
