package alipay

import (
	"github.com/estatepay/estatepay/shared/domain"

	"context"
	"fmt"

	sdk "github.com/smartwalle/alipay/v3"

	"github.com/estatepay/estatepay/shared/pay"
)

// Query asks alipay.trade.query for the trade. A trade Alipay never saw (the
// payer never opened the cashier) is State pay.TradeNotFound with a nil error.
//
// Whose trade it is: alipay.trade.query's answer carries no seller_id and no
// auth_app_id (unlike the async notification). Alipay looks out_trade_no up only
// among the trades of the calling app — in ISV mode, of the merchant whose
// app_auth_token we send — and signs its answer, which the SDK verifies. So the
// payee of a queried trade is the merchant the query was scoped to, and that is
// what the adapter reports: in ISV mode after Alipay itself has confirmed, with
// alipay.open.auth.token.app.query, that the token is the configured merchant's
// (user_id = SellerID, auth_app_id = AuthAppID); for our own app, the app's
// signing merchant, which every notification's seller_id is checked against.
// The caller still compares the report with the order's recorded merchant and
// app, so an order opened for another merchant (e.g. before an interface edit)
// never matches.
func (p *Provider) Query(ctx context.Context, orderID string) (pay.Trade, error) {
	rsp, err := p.client.TradeQuery(ctx, sdk.TradeQuery{AppAuthToken: p.cfg.AppAuthToken, OutTradeNo: orderID})
	if err != nil {
		return pay.Trade{}, wrapErr("trade.query", err)
	}
	if !rsp.IsSuccess() {
		if rsp.SubCode == subTradeNotExist {
			return pay.Trade{OrderID: orderID, State: pay.TradeNotFound}, nil
		}
		return pay.Trade{}, businessErr("trade.query", rsp.Error)
	}
	seller, app, err := p.queryScope(ctx)
	if err != nil {
		return pay.Trade{}, err
	}
	if rsp.OutTradeNo != "" && rsp.OutTradeNo != orderID {
		return pay.Trade{}, fmt.Errorf("alipay trade.query: %w: answered for out_trade_no %q", pay.ErrProvider, rsp.OutTradeNo)
	}
	amount, err := domain.ParseYuan(rsp.TotalAmount)
	if err != nil {
		return pay.Trade{}, fmt.Errorf("alipay trade.query: %w: total_amount %q", pay.ErrProvider, rsp.TotalAmount)
	}
	paidAt, err := parseTime(rsp.SendPayDate)
	if err != nil {
		return pay.Trade{}, fmt.Errorf("alipay trade.query: %w: send_pay_date %q", pay.ErrProvider, rsp.SendPayDate)
	}
	buyerPaid, err := optionalYuan(rsp.BuyerPayAmount)
	if err != nil {
		return pay.Trade{}, fmt.Errorf("alipay trade.query: %w: buyer_pay_amount %q", pay.ErrProvider, rsp.BuyerPayAmount)
	}
	state, err := mapStatus(string(rsp.TradeStatus), !paidAt.IsZero() || buyerPaid > 0)
	if err != nil {
		return pay.Trade{}, fmt.Errorf("alipay trade.query: %w: %v", pay.ErrProvider, err)
	}
	t := pay.Trade{
		OrderID: orderID, ProviderTxnID: rsp.TradeNo, State: state, AmountFen: amount,
		MerchantID: seller, AppID: app, PayerID: rsp.BuyerOpenId,
	}
	if t.PayerID == "" {
		t.PayerID = rsp.BuyerUserId
	}
	if state == pay.TradePaid || state == pay.TradeRefunded {
		t.PaidAt = paidAt
	}
	return t, nil
}

// Close closes an unpaid trade (alipay.trade.close). A trade Alipay never
// saw, or one already closed unpaid, is success. A paid trade is an error.
func (p *Provider) Close(ctx context.Context, orderID string) error {
	rsp, err := p.client.TradeClose(ctx, sdk.TradeClose{AppAuthToken: p.cfg.AppAuthToken, OutTradeNo: orderID})
	if err != nil {
		return wrapErr("trade.close", err)
	}
	if rsp.IsSuccess() || rsp.SubCode == subTradeNotExist {
		return nil
	}
	if rsp.SubCode == subTradeStatusError {
		// Already closed (Alipay may refuse to close twice) is fine; paid is not.
		t, qerr := p.Query(ctx, orderID)
		if qerr == nil && (t.State == pay.TradeClosed || t.State == pay.TradeNotFound) {
			return nil
		}
		if qerr == nil {
			return fmt.Errorf("alipay trade.close: %w: trade is %s", pay.ErrProvider, t.State)
		}
	}
	return businessErr("trade.close", rsp.Error)
}

// queryScope returns the seller and merchant app that a query made with this
// adapter's credentials is scoped to. In ISV mode Alipay is asked (once per
// adapter; the registry rebuilds adapters on any record change and every few
// minutes) which merchant the app_auth_token belongs to, and a token that is not
// valid or not the configured merchant's fails the query.
func (p *Provider) queryScope(ctx context.Context) (seller, app string, err error) {
	if !p.cfg.isv() {
		return p.cfg.SellerID, p.cfg.AppID, nil
	}
	p.mu.Lock()
	ok := p.tokenChecked
	p.mu.Unlock()
	if !ok {
		rsp, err := p.client.OpenAuthTokenAppQuery(ctx, sdk.OpenAuthTokenAppQuery{AppAuthToken: p.cfg.AppAuthToken})
		if err != nil {
			return "", "", wrapErr("open.auth.token.app.query", err)
		}
		if !rsp.IsSuccess() {
			return "", "", businessErr("open.auth.token.app.query", rsp.Error)
		}
		if rsp.Status != "valid" || rsp.UserId == "" || rsp.UserId != p.cfg.SellerID || rsp.AuthAppId == "" || rsp.AuthAppId != p.cfg.AuthAppID {
			return "", "", fmt.Errorf("alipay open.auth.token.app.query: %w: app_auth_token is %s for user_id %q auth_app_id %q, not the configured merchant",
				pay.ErrProvider, rsp.Status, rsp.UserId, rsp.AuthAppId)
		}
		p.mu.Lock()
		p.tokenChecked = true
		p.mu.Unlock()
	}
	return p.cfg.SellerID, p.cfg.AuthAppID, nil
}
