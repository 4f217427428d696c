package wechatpay

import (
	"context"
	"errors"

	"github.com/wechatpay-apiv3/wechatpay-go/core"
	"github.com/wechatpay-apiv3/wechatpay-go/services/refunddomestic"

	"github.com/estatepay/estatepay/shared/pay"
)

// Refund refunds (part of) a paid order; RefundID is the idempotent out_refund_no.
func (p *Provider) Refund(ctx context.Context, req pay.RefundRequest) (pay.RefundResult, error) {
	if req.AmountFen <= 0 || req.TotalFen <= 0 || req.AmountFen > req.TotalFen {
		return pay.RefundResult{}, errors.New("wechatpay: refund amount must be in (0, total]")
	}
	cr := refunddomestic.CreateRequest{
		OutTradeNo:  core.String(req.OrderID),
		OutRefundNo: core.String(req.RefundID),
		Amount: &refunddomestic.AmountReq{
			Refund:   core.Int64(req.AmountFen),
			Total:    core.Int64(req.TotalFen),
			Currency: core.String("CNY"),
		},
	}
	if req.Reason != "" {
		cr.Reason = core.String(req.Reason)
	}
	if p.cfg.partner() {
		cr.SubMchid = core.String(p.cfg.SubMchID)
	}
	svc := refunddomestic.RefundsApiService{Client: p.client}
	resp, _, err := svc.Create(ctx, cr)
	if err != nil {
		return pay.RefundResult{}, providerErr("refund", err)
	}
	out := pay.RefundResult{ProviderRefundID: deref(resp.RefundId)}
	if resp.Status != nil {
		out.Status = string(*resp.Status)
	}
	return out, nil
}
