package wechat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"time"
)

var outRefundNoRe = regexp.MustCompile(`^[0-9A-Za-z_\-*|@]{1,64}$`)

// Refund statuses as WeChat reports them.
const (
	RefundSuccess    = "SUCCESS"
	RefundProcessing = "PROCESSING"
	RefundAbnormal   = "ABNORMAL"
	RefundClosed     = "CLOSED"
)

var (
	// ErrRefundNotFound is returned for an unknown out_refund_no.
	ErrRefundNotFound = errors.New("wechat sandbox: refund not found")
	// ErrRefundState is returned when a refund cannot move to the asked status.
	ErrRefundState = errors.New("wechat sandbox: refund is not processing")
)

var refundSummary = map[string]string{
	RefundSuccess:  "退款成功",
	RefundAbnormal: "退款异常",
	RefundClosed:   "退款关闭",
}

type refund struct {
	id          string
	outRefundNo string
	trade       *trade
	amount      int64
	reason      string
	notifyURL   string
	status      string
	created     time.Time
	settled     time.Time // when status became final (success_time for SUCCESS)
}

// json renders the refund as the API's Refund object. Call with s.mu held.
func (f *refund) json() map[string]any {
	t := f.trade
	out := map[string]any{
		"refund_id":             f.id,
		"out_refund_no":         f.outRefundNo,
		"transaction_id":        t.txnID,
		"out_trade_no":          t.outTradeNo,
		"channel":               "ORIGINAL",
		"user_received_account": "支付用户零钱",
		"create_time":           f.created.In(shanghai).Format(time.RFC3339),
		"status":                f.status,
		"funds_account":         "AVAILABLE",
		"amount": map[string]any{
			"total": t.total, "refund": f.amount, "payer_total": t.total, "payer_refund": f.amount,
			"settlement_total": t.total, "settlement_refund": f.amount, "discount_refund": 0,
			"currency": "CNY", "from": []any{},
		},
	}
	if f.status == RefundSuccess {
		out["success_time"] = f.settled.In(shanghai).Format(time.RFC3339)
	}
	return out
}

// noticeJSON renders the plaintext resource of the refund's REFUND.*
// notification. Call with s.mu held.
func (f *refund) noticeJSON() map[string]any {
	t := f.trade
	out := map[string]any{
		"out_trade_no":          t.outTradeNo,
		"transaction_id":        t.txnID,
		"out_refund_no":         f.outRefundNo,
		"refund_id":             f.id,
		"refund_status":         f.status,
		"user_received_account": "支付用户零钱",
		"amount":                map[string]any{"total": t.total, "refund": f.amount, "payer_total": t.total, "payer_refund": f.amount},
	}
	if t.partner {
		out["sp_mchid"], out["sub_mchid"] = t.mchID, t.subMchID
	} else {
		out["mchid"] = t.mchID
	}
	if f.status == RefundSuccess {
		out["success_time"] = f.settled.In(shanghai).Format(time.RFC3339)
	}
	return out
}

// settleLocked ends a processing refund in status. A closed refund gives its
// amount back to the trade's refundable amount; an abnormal one keeps it
// (the money left the merchant and waits for the merchant to act).
func (f *refund) settleLocked(status string, now time.Time) {
	f.status, f.settled = status, now
	if status == RefundClosed {
		f.trade.refunded -= f.amount
	}
}

// SetRefundOutcome decides how a refund with this out_refund_no (at any
// merchant), created from now on, ends. Default RefundSuccess: the create
// answer already says SUCCESS. RefundAbnormal or RefundClosed: the create
// answer says PROCESSING, then the refund ends so at once (queries show it)
// and its REFUND.ABNORMAL / REFUND.CLOSED notification goes to notify_url.
// RefundProcessing: it stays processing until SettleRefund.
func (s *Server) SetRefundOutcome(outRefundNo, status string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.refundOutcomes == nil {
		s.refundOutcomes = map[string]string{}
	}
	s.refundOutcomes[outRefundNo] = status
}

// SettleRefund ends the processing refund with this out_refund_no in status
// (RefundSuccess, RefundAbnormal or RefundClosed) and starts delivering its
// notification when the refund had a notify_url.
func (s *Server) SettleRefund(outRefundNo, status string) error {
	if refundSummary[status] == "" {
		return fmt.Errorf("wechat sandbox: %q is not a final refund status", status)
	}
	s.mu.Lock()
	f, err := s.findRefundLocked(outRefundNo)
	if err != nil {
		s.mu.Unlock()
		return err
	}
	if f.status != RefundProcessing {
		st := f.status
		s.mu.Unlock()
		return fmt.Errorf("%w: %s", ErrRefundState, st)
	}
	f.settleLocked(status, s.now())
	s.mu.Unlock()
	s.log.Info("refund settled", "out_refund_no", outRefundNo, "status", status)
	if f.notifyURL != "" {
		s.startDelivery(s.refundNotice(f))
	}
	return nil
}

// findRefundLocked finds the refund with this out_refund_no at any merchant.
func (s *Server) findRefundLocked(outRefundNo string) (*refund, error) {
	var f *refund
	for _, cand := range s.refunds {
		if cand.outRefundNo == outRefundNo {
			if f != nil {
				return nil, fmt.Errorf("wechat sandbox: out_refund_no %q exists at several merchants", outRefundNo)
			}
			f = cand
		}
	}
	if f == nil {
		return nil, ErrRefundNotFound
	}
	return f, nil
}

// SignedRefundNotification builds the REFUND.<status> notification WeChat
// would POST for the refund in its current final status, optionally varied
// by o (o.Refund edits the resource; o.URL defaults to the refund's
// notify_url).
func (s *Server) SignedRefundNotification(ctx context.Context, outRefundNo string, o NotifyOptions) (*http.Request, error) {
	s.mu.Lock()
	f, err := s.findRefundLocked(outRefundNo)
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return s.refundNotification(ctx, f, o)
}

func (s *Server) refundNotice(f *refund) notice {
	s.mu.Lock()
	defer s.mu.Unlock()
	return notice{outTradeNo: f.trade.outTradeNo, outRefundNo: f.outRefundNo, eventType: "REFUND." + f.status, url: f.notifyURL,
		build: func(ctx context.Context, o NotifyOptions) (*http.Request, error) {
			return s.refundNotification(ctx, f, o)
		}}
}

func (s *Server) refundNotification(ctx context.Context, f *refund, o NotifyOptions) (*http.Request, error) {
	s.mu.Lock()
	status := f.status
	if refundSummary[status] == "" {
		s.mu.Unlock()
		return nil, fmt.Errorf("%w: still %s", ErrRefundState, status)
	}
	res := f.noticeJSON()
	if o.Refund != nil {
		o.Refund(res)
	}
	plain, err := json.Marshal(res)
	cb := callback{mchID: f.trade.mchID, url: f.notifyURL, created: f.settled, eventType: "REFUND." + status,
		summary: refundSummary[status], originalType: "refund", plain: plain}
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return s.signedCallback(ctx, cb, o)
}

func (s *Server) handleRefund(w http.ResponseWriter, r *http.Request, c *call) {
	var b struct {
		SubMchID      string `json:"sub_mchid"`
		TransactionID string `json:"transaction_id"`
		OutTradeNo    string `json:"out_trade_no"`
		OutRefundNo   string `json:"out_refund_no"`
		Reason        string `json:"reason"`
		NotifyURL     string `json:"notify_url"`
		Amount        *struct {
			Refund   *int64 `json:"refund"`
			Total    *int64 `json:"total"`
			Currency string `json:"currency"`
		} `json:"amount"`
	}
	if err := json.Unmarshal(c.body, &b); err != nil {
		s.writeError(w, http.StatusBadRequest, "PARAM_ERROR", "请求体不是合法的JSON")
		return
	}
	bad := func(msg string) { s.writeError(w, http.StatusBadRequest, "PARAM_ERROR", msg) }
	switch {
	case b.SubMchID != "" && !slices.Contains(c.merchant.SubMchIDs, b.SubMchID):
		bad("sub_mchid与服务商商户号不存在受理关系")
		return
	case b.TransactionID == "" && b.OutTradeNo == "":
		bad("transaction_id和out_trade_no必须二选一")
		return
	case !outRefundNoRe.MatchString(b.OutRefundNo):
		bad("out_refund_no格式错误")
		return
	case b.Amount == nil || b.Amount.Refund == nil || b.Amount.Total == nil || *b.Amount.Refund <= 0:
		bad("amount.refund和amount.total必须是大于0的整数（单位：分）")
		return
	case b.Amount.Currency != "CNY":
		bad("amount.currency必须为CNY")
		return
	}
	if b.NotifyURL != "" {
		if u, err := url.Parse(b.NotifyURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" {
			bad("notify_url格式错误：必须是不带参数的http(s)绝对地址")
			return
		}
	}
	owner := merchantKey(c.merchant.MchID, b.SubMchID)
	s.mu.Lock()
	unlocked := false
	defer func() {
		if !unlocked {
			s.mu.Unlock()
		}
	}()
	var t *trade
	if b.OutTradeNo != "" {
		t = s.trades[owner+"|"+b.OutTradeNo]
	} else if cand := s.byTxn[b.TransactionID]; cand != nil && merchantKey(cand.mchID, cand.subMchID) == owner {
		t = cand
	}
	if t == nil {
		s.writeError(w, http.StatusNotFound, "RESOURCE_NOT_EXISTS", "订单不存在")
		return
	}
	if old := s.refunds[owner+"|"+b.OutRefundNo]; old != nil {
		if old.trade != t || old.amount != *b.Amount.Refund {
			s.writeError(w, http.StatusBadRequest, "INVALID_REQUEST", "退款单号重复，且与之前请求参数不一致")
			return
		}
		s.writeJSON(w, http.StatusOK, old.json())
		return
	}
	switch {
	case t.state != StateSuccess && t.state != StateRefund:
		s.writeError(w, http.StatusBadRequest, "INVALID_REQUEST", "订单未支付，不能退款")
		return
	case *b.Amount.Total != t.total:
		bad("订单金额与实际支付金额不一致")
		return
	case t.refunded+*b.Amount.Refund > t.total:
		// As WeChat answers a refund past what is left to refund (NOT_ENOUGH
		// is the merchant's balance being short, a different thing).
		s.writeError(w, http.StatusBadRequest, "INVALID_REQUEST", "申请退款金额超过订单可退金额")
		return
	}
	now := s.now()
	s.seq++
	f := &refund{
		id:          fmt.Sprintf("5030%s%017d", now.In(shanghai).Format("20060102"), s.seq),
		outRefundNo: b.OutRefundNo,
		trade:       t,
		amount:      *b.Amount.Refund,
		reason:      b.Reason,
		notifyURL:   b.NotifyURL,
		status:      RefundProcessing,
		created:     now,
	}
	t.refunded += f.amount
	t.state = StateRefund
	s.refunds[owner+"|"+b.OutRefundNo] = f
	outcome := s.refundOutcomes[b.OutRefundNo]
	if outcome == "" {
		outcome = RefundSuccess
	}
	if outcome == RefundSuccess {
		f.settleLocked(RefundSuccess, now)
	}
	answer := f.json() // PROCESSING unless it succeeded at once
	if outcome == RefundAbnormal || outcome == RefundClosed {
		f.settleLocked(outcome, now)
	}
	status := f.status
	unlocked = true
	s.mu.Unlock()
	final := status != RefundProcessing
	s.log.Info("refund created", "out_trade_no", t.outTradeNo, "out_refund_no", f.outRefundNo, "amount", f.amount, "status", status)
	if final && f.notifyURL != "" {
		s.startDelivery(s.refundNotice(f))
	}
	s.writeJSON(w, http.StatusOK, answer)
}

func (s *Server) handleRefundQuery(w http.ResponseWriter, r *http.Request, c *call) {
	sub := r.URL.Query().Get("sub_mchid")
	if sub != "" && !slices.Contains(c.merchant.SubMchIDs, sub) {
		s.writeError(w, http.StatusBadRequest, "PARAM_ERROR", "sub_mchid与服务商商户号不存在受理关系")
		return
	}
	s.mu.Lock()
	f := s.refunds[merchantKey(c.merchant.MchID, sub)+"|"+r.PathValue("no")]
	var resp map[string]any
	if f != nil {
		resp = f.json()
	}
	s.mu.Unlock()
	if f == nil {
		s.writeError(w, http.StatusNotFound, "RESOURCE_NOT_EXISTS", "退款单不存在")
		return
	}
	s.writeJSON(w, http.StatusOK, resp)
}
