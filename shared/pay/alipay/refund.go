package alipay

import (
	"context"
	"fmt"
	"net/http"

	sdk "github.com/smartwalle/alipay/v3"

	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/pay"
)

// refundSuccess is the only refund_status alipay.trade.fastpay.refund.query
// reports; without it the refund was not received (yet) or failed.
const refundSuccess = "REFUND_SUCCESS"

// Refund refunds (part of) a paid trade with alipay.trade.refund, using
// RefundID as out_request_no so retries are idempotent. When Alipay answers
// fund_change=N (e.g. a repeated request) the outcome is confirmed with
// alipay.trade.fastpay.refund.query. ProviderRefundID is Alipay's trade_no
// (Alipay has no separate refund id); Status is SUCCESS or PROCESSING.
// req.NotifyURL is ignored: Alipay sends no refund result notification.
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
	res := pay.RefundResult{ProviderRefundID: rsp.TradeNo, Status: "SUCCESS", State: pay.RefundSuccess, AmountFen: req.AmountFen}
	if rsp.FundChange == "Y" {
		// The SDK does not surface gmt_refund_pay here; QueryRefund reports it.
		return res, nil
	}
	q, err := p.refundQuery(ctx, req.OrderID, req.RefundID)
	if err != nil {
		return pay.RefundResult{}, err
	}
	if q.RefundStatus != refundSuccess {
		res.Status, res.State = "PROCESSING", pay.RefundProcessing
		return res, nil
	}
	if amt, err := domain.ParseYuan(q.RefundAmount); err != nil || amt != req.AmountFen {
		return pay.RefundResult{}, fmt.Errorf("alipay refund: %w: refund %s already exists with amount %q", pay.ErrProvider, req.RefundID, q.RefundAmount)
	}
	if at, err := parseTime(q.GMTRefundPay); err == nil {
		res.SucceededAt = at
	}
	return res, nil
}

// QueryRefund asks alipay.trade.fastpay.refund.query for the refund with
// out_request_no refundID of order orderID. Alipay reports only successful
// refunds (REFUND_SUCCESS); a refund it does not report, or an unknown order,
// wraps pay.ErrRefundNotFound. Status is Alipay's REFUND_SUCCESS.
func (p *Provider) QueryRefund(ctx context.Context, orderID, refundID string) (pay.RefundResult, error) {
	if orderID == "" || refundID == "" {
		return pay.RefundResult{}, fmt.Errorf("alipay refund query: order id and refund id are required")
	}
	q, err := p.refundQuery(ctx, orderID, refundID)
	if SubCode(err) == subTradeNotExist {
		return pay.RefundResult{}, fmt.Errorf("alipay refund query %s: order %s unknown: %w", refundID, orderID, pay.ErrRefundNotFound)
	}
	if err != nil {
		return pay.RefundResult{}, err
	}
	if q.RefundStatus == "" && q.OutRequestNo == "" && q.RefundAmount == "" {
		return pay.RefundResult{}, fmt.Errorf("alipay refund query %s: %w", refundID, pay.ErrRefundNotFound)
	}
	if q.OutTradeNo != orderID || q.OutRequestNo != refundID {
		return pay.RefundResult{}, fmt.Errorf("alipay refund query: %w: answered for %q/%q", pay.ErrProvider, q.OutTradeNo, q.OutRequestNo)
	}
	amt, err := domain.ParseYuan(q.RefundAmount)
	if err != nil {
		return pay.RefundResult{}, fmt.Errorf("alipay refund query: %w: refund_amount %q", pay.ErrProvider, q.RefundAmount)
	}
	res := pay.RefundResult{ProviderRefundID: q.TradeNo, Status: q.RefundStatus, State: pay.RefundProcessing, AmountFen: amt}
	if q.RefundStatus == refundSuccess {
		res.State = pay.RefundSuccess
		at, err := parseTime(q.GMTRefundPay)
		if err != nil {
			return pay.RefundResult{}, fmt.Errorf("alipay refund query: %w: gmt_refund_pay %q", pay.ErrProvider, q.GMTRefundPay)
		}
		res.SucceededAt = at
	}
	return res, nil
}

func (p *Provider) refundQuery(ctx context.Context, orderID, refundID string) (*sdk.TradeFastPayRefundQueryRsp, error) {
	q, err := p.client.TradeFastPayRefundQuery(ctx, sdk.TradeFastPayRefundQuery{
		AppAuthToken: p.cfg.AppAuthToken, OutTradeNo: orderID, OutRequestNo: refundID,
		// gmt_refund_pay is only returned when asked for.
		QueryOptions: []string{"gmt_refund_pay"},
	})
	if err != nil {
		return nil, wrapErr("trade.fastpay.refund.query", err)
	}
	if !q.IsSuccess() {
		return nil, businessErr("trade.fastpay.refund.query", q.Error)
	}
	return q, nil
}

// ParseRefundNotification is not supported: alipay.trade.refund is
// synchronous and Alipay sends no refund result notification (a refund only
// shows in the trade's own async notification). Use QueryRefund to confirm.
func (p *Provider) ParseRefundNotification(ctx context.Context, r *http.Request) (pay.RefundNotification, error) {
	return pay.RefundNotification{}, fmt.Errorf("alipay: refund notifications: %w", pay.ErrUnsupported)
}
