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
func (p *Provider) Query(ctx context.Context, orderID string) (pay.Trade, error) {
	rsp, err := p.client.TradeQuery(ctx, sdk.TradeQuery{AppAuthToken: p.cfg.AppAuthToken, OutTradeNo: orderID})
	if err != nil {
		return pay.Trade{}, wrapErr("trade.query", err)
	}
	if !rsp.IsSuccess() {
		if rsp.SubCode == subTradeNotExist {
			return pay.Trade{OrderID: orderID, State: pay.TradeNotFound, MerchantID: p.cfg.SellerID, AppID: p.cfg.AppID}, nil
		}
		return pay.Trade{}, businessErr("trade.query", rsp.Error)
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
	state, err := mapStatus(string(rsp.TradeStatus), !paidAt.IsZero())
	if err != nil {
		return pay.Trade{}, fmt.Errorf("alipay trade.query: %w: %v", pay.ErrProvider, err)
	}
	t := pay.Trade{
		OrderID: orderID, ProviderTxnID: rsp.TradeNo, State: state, AmountFen: amount,
		MerchantID: p.cfg.SellerID, AppID: p.cfg.AppID, PayerID: rsp.BuyerOpenId,
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
