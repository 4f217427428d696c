package wechatpay

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/wechatpay-apiv3/wechatpay-go/core"
	"github.com/wechatpay-apiv3/wechatpay-go/services/refunddomestic"

	"github.com/estatepay/estatepay/shared/pay"
)

// RefundState maps WeChat's refund status to pay.RefundState. An unknown
// status is reported as still processing: nothing final is concluded from it.
func RefundState(s string) pay.RefundState {
	switch s {
	case "SUCCESS":
		return pay.RefundSuccess
	case "CLOSED":
		return pay.RefundClosed
	case "ABNORMAL":
		return pay.RefundAbnormal
	default: // PROCESSING
		return pay.RefundProcessing
	}
}

// Refund refunds (part of) a paid order; RefundID is the idempotent
// out_refund_no. WeChat answers with the refund's state, usually PROCESSING;
// the REFUND.* notification (to req.NotifyURL) or QueryRefund tells the end.
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
	if req.NotifyURL != "" {
		cr.NotifyUrl = core.String(req.NotifyURL)
	}
	if p.cfg.partner() {
		cr.SubMchid = core.String(p.cfg.SubMchID)
	}
	svc := refunddomestic.RefundsApiService{Client: p.client}
	resp, _, err := svc.Create(ctx, cr)
	if err != nil {
		return pay.RefundResult{}, providerErr("refund", err)
	}
	if got := deref(resp.OutRefundNo); got != "" && got != req.RefundID {
		return pay.RefundResult{}, providerErr("refund", fmt.Errorf("answered for out_refund_no %q", got))
	}
	return refundResult(resp), nil
}

// QueryRefund looks a refund up by out_refund_no. An unknown refund wraps
// pay.ErrRefundNotFound; a refund of another order is a provider error.
func (p *Provider) QueryRefund(ctx context.Context, orderID, refundID string) (pay.RefundResult, error) {
	q := refunddomestic.QueryByOutRefundNoRequest{OutRefundNo: core.String(refundID)}
	if p.cfg.partner() {
		q.SubMchid = core.String(p.cfg.SubMchID)
	}
	svc := refunddomestic.RefundsApiService{Client: p.client}
	resp, _, err := svc.QueryByOutRefundNo(ctx, q)
	if err != nil {
		if status, code := apiErrorCode(err); status == http.StatusNotFound || code == "RESOURCE_NOT_EXISTS" {
			return pay.RefundResult{}, fmt.Errorf("wechatpay refund query %s: %w", refundID, pay.ErrRefundNotFound)
		}
		return pay.RefundResult{}, providerErr("refund query", err)
	}
	if got := deref(resp.OutRefundNo); got != refundID {
		return pay.RefundResult{}, providerErr("refund query", fmt.Errorf("answered for out_refund_no %q", got))
	}
	if got := deref(resp.OutTradeNo); got != orderID {
		return pay.RefundResult{}, providerErr("refund query", fmt.Errorf("refund %s belongs to out_trade_no %q, not %q", refundID, got, orderID))
	}
	return refundResult(resp), nil
}

func refundResult(r *refunddomestic.Refund) pay.RefundResult {
	out := pay.RefundResult{ProviderRefundID: deref(r.RefundId)}
	if r.Status != nil {
		out.Status = string(*r.Status)
	}
	out.State = RefundState(out.Status)
	if r.Amount != nil && r.Amount.Refund != nil {
		out.AmountFen = *r.Amount.Refund
	}
	if out.State == pay.RefundSuccess && r.SuccessTime != nil {
		out.SucceededAt = *r.SuccessTime
	}
	return out
}

// refundNotice is the decrypted resource of a REFUND.* notification (direct:
// mchid; partner: sp_mchid and sub_mchid).
type refundNotice struct {
	MchID         string `json:"mchid"`
	SpMchID       string `json:"sp_mchid"`
	SubMchID      string `json:"sub_mchid"`
	OutTradeNo    string `json:"out_trade_no"`
	TransactionID string `json:"transaction_id"`
	OutRefundNo   string `json:"out_refund_no"`
	RefundID      string `json:"refund_id"`
	RefundStatus  string `json:"refund_status"`
	SuccessTime   string `json:"success_time"`
	Amount        struct {
		Total       *int64 `json:"total"`
		Refund      *int64 `json:"refund"`
		PayerTotal  *int64 `json:"payer_total"`
		PayerRefund *int64 `json:"payer_refund"`
	} `json:"amount"`
}

// refundEvents are the refund notification event types and the refund_status
// each one must carry.
var refundEvents = map[string]string{
	"REFUND.SUCCESS":  "SUCCESS",
	"REFUND.ABNORMAL": "ABNORMAL",
	"REFUND.CLOSED":   "CLOSED",
}

// ParseRefundNotification verifies a refund result callback (REFUND.SUCCESS,
// REFUND.ABNORMAL, REFUND.CLOSED) exactly like ParseNotification — platform
// signature, timestamp window, AEAD_AES_256_GCM with the APIv3 key — and
// returns the refund. It must be for this interface's merchant. Errors wrap
// pay.ErrBadSignature, pay.ErrStaleTimestamp or pay.ErrMalformed.
func (p *Provider) ParseRefundNotification(ctx context.Context, r *http.Request) (pay.RefundNotification, error) {
	var rn refundNotice
	req, err := p.parseNotify(ctx, r, &rn)
	if err != nil {
		return pay.RefundNotification{}, err
	}
	if req.Resource == nil || req.Resource.OriginalType != "refund" {
		return pay.RefundNotification{}, fmt.Errorf("%w: not a refund notification (event %s)", pay.ErrMalformed, req.EventType)
	}
	want, ok := refundEvents[req.EventType]
	switch {
	case !ok:
		return pay.RefundNotification{}, fmt.Errorf("%w: unknown refund event %q", pay.ErrMalformed, req.EventType)
	case rn.RefundStatus != want:
		return pay.RefundNotification{}, fmt.Errorf("%w: event %s carries refund_status %q", pay.ErrMalformed, req.EventType, rn.RefundStatus)
	case rn.OutTradeNo == "" || rn.OutRefundNo == "" || rn.RefundID == "":
		return pay.RefundNotification{}, fmt.Errorf("%w: refund without out_trade_no, out_refund_no or refund_id", pay.ErrMalformed)
	case rn.Amount.Refund == nil || rn.Amount.Total == nil || *rn.Amount.Refund <= 0 || *rn.Amount.Refund > *rn.Amount.Total:
		return pay.RefundNotification{}, fmt.Errorf("%w: refund amount missing or out of range", pay.ErrMalformed)
	}
	if err := p.ownsRefund(rn); err != nil {
		return pay.RefundNotification{}, fmt.Errorf("%w: refund notification %v", pay.ErrMalformed, err)
	}
	out := pay.RefundNotification{
		EventID:          req.ID,
		OrderID:          rn.OutTradeNo,
		RefundID:         rn.OutRefundNo,
		ProviderRefundID: rn.RefundID,
		State:            RefundState(rn.RefundStatus),
		AmountFen:        *rn.Amount.Refund,
		TotalFen:         *rn.Amount.Total,
		MerchantID:       rn.MchID,
	}
	if p.cfg.partner() {
		out.MerchantID = rn.SubMchID
	}
	if out.State == pay.RefundSuccess {
		at, err := time.Parse(time.RFC3339, rn.SuccessTime)
		if err != nil {
			return pay.RefundNotification{}, fmt.Errorf("%w: success_time %q", pay.ErrMalformed, rn.SuccessTime)
		}
		out.SucceededAt = at
	}
	return out, nil
}

// ownsRefund checks, on what WeChat Pay reported, that the refund was made for
// this interface's merchant (fail closed: a missing id never matches). A
// refund notification names no app.
func (p *Provider) ownsRefund(rn refundNotice) error {
	same := func(got, want string) bool { return got != "" && got == want }
	if p.cfg.partner() {
		if !same(rn.SpMchID, p.cfg.SpMchID) || !same(rn.SubMchID, p.cfg.SubMchID) {
			return fmt.Errorf("for another merchant (sp_mchid %q sub_mchid %q)", rn.SpMchID, rn.SubMchID)
		}
		return nil
	}
	if !same(rn.MchID, p.cfg.MchID) || rn.SpMchID != "" {
		return fmt.Errorf("for another merchant (mchid %q sp_mchid %q)", rn.MchID, rn.SpMchID)
	}
	return nil
}
