package wechat

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"time"
)

var outRefundNoRe = regexp.MustCompile(`^[0-9A-Za-z_\-*|@]{1,64}$`)

type refund struct {
	id          string
	outRefundNo string
	trade       *trade
	amount      int64
	reason      string
	created     time.Time
}

func (f *refund) json() map[string]any {
	t := f.trade
	return map[string]any{
		"refund_id":             f.id,
		"out_refund_no":         f.outRefundNo,
		"transaction_id":        t.txnID,
		"out_trade_no":          t.outTradeNo,
		"channel":               "ORIGINAL",
		"user_received_account": "支付用户零钱",
		"success_time":          f.created.In(shanghai).Format(time.RFC3339),
		"create_time":           f.created.In(shanghai).Format(time.RFC3339),
		"status":                "SUCCESS",
		"funds_account":         "AVAILABLE",
		"amount": map[string]any{
			"total": t.total, "refund": f.amount, "payer_total": t.total, "payer_refund": f.amount,
			"settlement_total": t.total, "settlement_refund": f.amount, "discount_refund": 0,
			"currency": "CNY", "from": []any{},
		},
	}
}

func (s *Server) handleRefund(w http.ResponseWriter, r *http.Request, c *call) {
	var b struct {
		SubMchID      string `json:"sub_mchid"`
		TransactionID string `json:"transaction_id"`
		OutTradeNo    string `json:"out_trade_no"`
		OutRefundNo   string `json:"out_refund_no"`
		Reason        string `json:"reason"`
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
	owner := merchantKey(c.merchant.MchID, b.SubMchID)
	s.mu.Lock()
	defer s.mu.Unlock()
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
		s.writeError(w, http.StatusForbidden, "NOT_ENOUGH", "申请退款金额超过订单可退金额")
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
		created:     now,
	}
	t.refunded += f.amount
	t.state = StateRefund
	s.refunds[owner+"|"+b.OutRefundNo] = f
	s.log.Info("refund created", "out_trade_no", t.outTradeNo, "out_refund_no", f.outRefundNo, "amount", f.amount)
	s.writeJSON(w, http.StatusOK, f.json())
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
