package wechat

import (
	"fmt"
	"time"
)

// Trade states as WeChat reports them.
const (
	StateNotPay  = "NOTPAY"
	StateSuccess = "SUCCESS"
	StateClosed  = "CLOSED"
	StateRefund  = "REFUND"
)

// trade is one out_trade_no at one merchant.
type trade struct {
	partner     bool
	mchID       string // direct mchid, or sp_mchid
	subMchID    string
	appID       string // direct appid, or sp_appid
	subAppID    string
	openID      string // direct openid
	spOpenID    string
	subOpenID   string
	outTradeNo  string
	tradeType   string // JSAPI | NATIVE
	desc        string
	attach      string
	notifyURL   string
	total       int64
	expire      time.Time // zero: none
	fingerprint string

	prepayID string
	codeURL  string
	txnID    string
	state    string
	created  time.Time
	paidAt   time.Time
	refunded int64
	fenfu    bool // paid by 分付: the JSAPI package carried a valid market_exposure_token
}

// merchantKey identifies the merchant that owns an out_trade_no.
func merchantKey(mchID, subMchID string) string {
	if subMchID == "" {
		return mchID
	}
	return mchID + "/" + subMchID
}

func (t *trade) key() string { return merchantKey(t.mchID, t.subMchID) + "|" + t.outTradeNo }

// payAppID is the appid the payer's JSAPI call is signed for.
func (t *trade) payAppID() string {
	if t.partner && t.subAppID != "" {
		return t.subAppID
	}
	return t.appID
}

// expireIfDue closes an unpaid trade whose time_expire has passed. Call with s.mu held.
func (t *trade) expireIfDue(now time.Time) {
	if t.state == StateNotPay && !t.expire.IsZero() && !now.Before(t.expire) {
		t.state = StateClosed
	}
}

var stateDesc = map[string]string{
	StateNotPay:  "订单未支付",
	StateSuccess: "支付成功",
	StateClosed:  "订单已关闭",
	StateRefund:  "订单发生过退款",
}

// transactionJSON renders the trade as the API's Transaction object (also the
// plaintext of a TRANSACTION.SUCCESS callback).
func (t *trade) transactionJSON() map[string]any {
	out := map[string]any{
		"out_trade_no":     t.outTradeNo,
		"trade_type":       t.tradeType,
		"trade_state":      t.state,
		"trade_state_desc": stateDesc[t.state],
		"attach":           t.attach,
	}
	amount := map[string]any{"total": t.total, "currency": "CNY", "payer_currency": "CNY"}
	if t.partner {
		out["sp_appid"], out["sp_mchid"], out["sub_mchid"] = t.appID, t.mchID, t.subMchID
		if t.subAppID != "" {
			out["sub_appid"] = t.subAppID
		}
	} else {
		out["appid"], out["mchid"] = t.appID, t.mchID
	}
	if t.state == StateSuccess || t.state == StateRefund {
		out["transaction_id"] = t.txnID
		out["bank_type"] = "OTHERS"
		out["success_time"] = t.paidAt.In(shanghai).Format(time.RFC3339)
		amount["payer_total"] = t.total
		payer := map[string]any{}
		if t.partner {
			if t.spOpenID != "" {
				payer["sp_openid"] = t.spOpenID
			}
			if t.subOpenID != "" {
				payer["sub_openid"] = t.subOpenID
			}
		} else if t.openID != "" {
			payer["openid"] = t.openID
		}
		out["payer"] = payer
	}
	out["amount"] = amount
	return out
}

// newTxnID returns a 28-digit transaction id like 4200001234202401021234567890.
func (s *Server) newTxnID(now time.Time) string {
	s.seq++
	return fmt.Sprintf("4200%s%016d", now.In(shanghai).Format("20060102"), s.seq)
}

// newPrepayID returns a 36-character prepay id like wx2014...
func (s *Server) newPrepayID(now time.Time) string {
	return "wx" + now.In(shanghai).Format("02150405") + randomHex(13)
}
