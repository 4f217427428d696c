package alipay

import (
	"github.com/estatepay/estatepay/shared/domain"

	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/estatepay/estatepay/shared/pay"
)

// ParseNotification verifies an Alipay async notification (form POST,
// RSA2 over every parameter but sign and sign_type) and maps it to a
// pay.Notification. The caller answers "success" (exactly) once it has
// durably handled the notification. Errors wrap pay.ErrBadSignature or
// pay.ErrMalformed.
func (p *Provider) ParseNotification(ctx context.Context, r *http.Request) (pay.Notification, error) {
	if r == nil || r.Body == nil {
		return pay.Notification{}, fmt.Errorf("alipay notify: %w: empty request", pay.ErrMalformed)
	}
	if err := r.ParseForm(); err != nil {
		return pay.Notification{}, fmt.Errorf("alipay notify: %w: %v", pay.ErrMalformed, err)
	}
	v := r.PostForm
	if len(v) == 0 {
		return pay.Notification{}, fmt.Errorf("alipay notify: %w: no form parameters", pay.ErrMalformed)
	}
	if v.Get("sign") == "" {
		return pay.Notification{}, fmt.Errorf("alipay notify: %w: missing sign", pay.ErrBadSignature)
	}
	if st := v.Get("sign_type"); st != "" && st != "RSA2" {
		return pay.Notification{}, fmt.Errorf("alipay notify: %w: sign_type %q", pay.ErrBadSignature, st)
	}
	// VerifySign covers every parameter (empty ones included) except sign,
	// sign_type and alipay_cert_sn.
	if err := p.client.VerifySign(v); err != nil {
		return pay.Notification{}, fmt.Errorf("alipay notify: %w: %v", pay.ErrBadSignature, err)
	}
	// Whose money this is, as Alipay reports it (C1, fail closed): the seller is
	// required, and in ISV mode so is the authorising merchant's app.
	if got := v.Get("app_id"); got != p.cfg.AppID {
		return pay.Notification{}, fmt.Errorf("alipay notify: %w: app_id %q is not ours", pay.ErrMalformed, got)
	}
	seller := v.Get("seller_id")
	if seller == "" || seller != p.cfg.SellerID {
		return pay.Notification{}, fmt.Errorf("alipay notify: %w: seller_id %q is not ours", pay.ErrMalformed, seller)
	}
	app := v.Get("app_id")
	if authApp := v.Get("auth_app_id"); p.cfg.isv() {
		if authApp == "" || authApp != p.cfg.AuthAppID {
			return pay.Notification{}, fmt.Errorf("alipay notify: %w: auth_app_id %q is not the merchant's", pay.ErrMalformed, authApp)
		}
		app = authApp
	} else if authApp != "" && authApp != p.cfg.AppID {
		// Our own app: Alipay reports auth_app_id = app_id.
		return pay.Notification{}, fmt.Errorf("alipay notify: %w: auth_app_id %q on a non-ISV interface", pay.ErrMalformed, authApp)
	}
	n := pay.Notification{EventID: v.Get("notify_id")}
	n.OrderID = v.Get("out_trade_no")
	n.ProviderTxnID = v.Get("trade_no")
	if n.OrderID == "" || n.ProviderTxnID == "" || n.EventID == "" {
		return pay.Notification{}, fmt.Errorf("alipay notify: %w: missing out_trade_no, trade_no or notify_id", pay.ErrMalformed)
	}
	amount, err := domain.ParseYuan(v.Get("total_amount"))
	if err != nil {
		return pay.Notification{}, fmt.Errorf("alipay notify: %w: total_amount %q", pay.ErrMalformed, v.Get("total_amount"))
	}
	n.AmountFen = amount
	var refunded int64
	if rf := v.Get("refund_fee"); rf != "" {
		if refunded, err = domain.ParseYuan(rf); err != nil {
			return pay.Notification{}, fmt.Errorf("alipay notify: %w: refund_fee %q", pay.ErrMalformed, rf)
		}
	}
	if n.PaidAt, err = parseTime(v.Get("gmt_payment")); err != nil {
		return pay.Notification{}, fmt.Errorf("alipay notify: %w: gmt_payment %q", pay.ErrMalformed, v.Get("gmt_payment"))
	}
	buyerPaid, err := optionalYuan(v.Get("buyer_pay_amount"))
	if err != nil {
		return pay.Notification{}, fmt.Errorf("alipay notify: %w: buyer_pay_amount %q", pay.ErrMalformed, v.Get("buyer_pay_amount"))
	}
	n.State, err = mapStatus(v.Get("trade_status"), !n.PaidAt.IsZero() || refunded > 0 || buyerPaid > 0)
	if err != nil {
		return pay.Notification{}, fmt.Errorf("alipay notify: %w: %v", pay.ErrMalformed, err)
	}
	if n.State != pay.TradePaid && n.State != pay.TradeRefunded {
		n.PaidAt = time.Time{}
	}
	n.MerchantID = seller
	n.AppID = app
	n.PayerID = v.Get("buyer_open_id")
	if n.PayerID == "" {
		n.PayerID = v.Get("buyer_id")
	}
	return n, nil
}

// parseTime parses an Alipay "2006-01-02 15:04:05" time in Asia/Shanghai;
// empty is the zero time.
func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	return time.ParseInLocation(timeLayout, s, cst)
}

// optionalYuan parses an amount in yuan; empty is zero.
func optionalYuan(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	return domain.ParseYuan(s)
}

// mapStatus normalises trade_status. Alipay reports TRADE_CLOSED both for a
// trade closed unpaid (timeout, alipay.trade.close) and for a paid trade that
// was refunded in full; wasPaid (the report shows a payment: gmt_payment /
// send_pay_date, a refund, or buyer_pay_amount > 0) tells them apart, so
// TradeRefunded is reported only for paid-then-refunded trades.
func mapStatus(status string, wasPaid bool) (pay.TradeState, error) {
	switch status {
	case "WAIT_BUYER_PAY":
		return pay.TradePending, nil
	case "TRADE_SUCCESS", "TRADE_FINISHED":
		return pay.TradePaid, nil
	case "TRADE_CLOSED":
		if wasPaid {
			return pay.TradeRefunded, nil
		}
		return pay.TradeClosed, nil
	}
	return "", fmt.Errorf("unknown trade_status %q", status)
}
