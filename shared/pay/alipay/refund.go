package alipay

import (
	"github.com/estatepay/estatepay/shared/domain"

	"context"
	"fmt"

	sdk "github.com/smartwalle/alipay/v3"

	"github.com/estatepay/estatepay/shared/pay"
)

// Refund refunds (part of) a paid trade with alipay.trade.refund, using
// RefundID as out_request_no so retries are idempotent. When Alipay answers
// fund_change=N (e.g. a repeated request) the outcome is confirmed with
// alipay.trade.fastpay.refund.query. ProviderRefundID is Alipay's trade_no
// (Alipay has no separate refund id); Status is SUCCESS or PROCESSING.
func (p *Provider) Refund(ctx context.Context, req pay.RefundRequest) (pay.RefundResult, error) {
	if req.OrderID == "" || req.RefundID == "" {
		return pay.RefundResult{}, fmt.Errorf("alipay refund: order id and refund id are required")
	}
	if req.AmountFen <= 0 || (req.TotalFen > 0 && req.AmountFen > req.TotalFen) {
		return pay.RefundResult{}, fmt.Errorf("alipay refund: invalid amount %d fen (total %d)", req.AmountFen, req.TotalFen)
	}
	rsp, err := p.client.TradeRefund(ctx, sdk.TradeRefund{
		AppAuthToken: p.cfg.AppAuthToken,
		OutTradeNo:   req.OrderID,
		RefundAmount: domain.FormatYuan(req.AmountFen),
		RefundReason: req.Reason,
		OutRequestNo: req.RefundID,
	})
	if err != nil {
		return pay.RefundResult{}, wrapErr("trade.refund", err)
	}
	if !rsp.IsSuccess() {
		return pay.RefundResult{}, businessErr("trade.refund", rsp.Error)
	}
	res := pay.RefundResult{ProviderRefundID: rsp.TradeNo, Status: "SUCCESS"}
	if rsp.FundChange == "Y" {
		return res, nil
	}
	q, err := p.client.TradeFastPayRefundQuery(ctx, sdk.TradeFastPayRefundQuery{
		AppAuthToken: p.cfg.AppAuthToken, OutTradeNo: req.OrderID, OutRequestNo: req.RefundID,
	})
	if err != nil {
		return pay.RefundResult{}, wrapErr("trade.fastpay.refund.query", err)
	}
	if !q.IsSuccess() {
		return pay.RefundResult{}, businessErr("trade.fastpay.refund.query", q.Error)
	}
	if q.RefundStatus != "REFUND_SUCCESS" {
		res.Status = "PROCESSING"
	} else if amt, err := domain.ParseYuan(q.RefundAmount); err != nil || amt != req.AmountFen {
		return pay.RefundResult{}, fmt.Errorf("alipay refund: %w: refund %s already exists with amount %q", pay.ErrProvider, req.RefundID, q.RefundAmount)
	}
	return res, nil
}
