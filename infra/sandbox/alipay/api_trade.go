package alipay

import (
	"slices"
	"time"

	"github.com/estatepay/estatepay/shared/domain"
)

const okCode, okMsg = "10000", "Success"

type queryResponse struct {
	Code           string `json:"code"`
	Msg            string `json:"msg"`
	TradeNo        string `json:"trade_no"`
	OutTradeNo     string `json:"out_trade_no"`
	BuyerLogonID   string `json:"buyer_logon_id,omitempty"`
	TradeStatus    string `json:"trade_status"`
	TotalAmount    string `json:"total_amount"`
	BuyerPayAmount string `json:"buyer_pay_amount,omitempty"`
	ReceiptAmount  string `json:"receipt_amount,omitempty"`
	PointAmount    string `json:"point_amount,omitempty"`
	InvoiceAmount  string `json:"invoice_amount,omitempty"`
	SendPayDate    string `json:"send_pay_date,omitempty"`
	BuyerUserID    string `json:"buyer_user_id,omitempty"`
	BuyerOpenID    string `json:"buyer_open_id,omitempty"`
	Subject        string `json:"subject,omitempty"`
}

type closeResponse struct {
	Code       string `json:"code"`
	Msg        string `json:"msg"`
	TradeNo    string `json:"trade_no"`
	OutTradeNo string `json:"out_trade_no"`
}

type refundResponse struct {
	Code         string `json:"code"`
	Msg          string `json:"msg"`
	TradeNo      string `json:"trade_no"`
	OutTradeNo   string `json:"out_trade_no"`
	BuyerLogonID string `json:"buyer_logon_id,omitempty"`
	FundChange   string `json:"fund_change"`
	RefundFee    string `json:"refund_fee"`
	GmtRefundPay string `json:"gmt_refund_pay,omitempty"`
	BuyerUserID  string `json:"buyer_user_id,omitempty"`
	BuyerOpenID  string `json:"buyer_open_id,omitempty"`
	SendBackFee  string `json:"send_back_fee,omitempty"`
}

type refundQueryResponse struct {
	Code         string `json:"code"`
	Msg          string `json:"msg"`
	TradeNo      string `json:"trade_no,omitempty"`
	OutTradeNo   string `json:"out_trade_no,omitempty"`
	OutRequestNo string `json:"out_request_no,omitempty"`
	TotalAmount  string `json:"total_amount,omitempty"`
	RefundAmount string `json:"refund_amount,omitempty"`
	RefundStatus string `json:"refund_status,omitempty"`
	GmtRefundPay string `json:"gmt_refund_pay,omitempty"`
	SendBackFee  string `json:"send_back_fee,omitempty"`
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(cst).Format(timeLayout)
}

// lookupLocked finds the trade named by out_trade_no or trade_no in c's scope.
func (s *Server) lookupLocked(c *call) (*trade, *apiError) {
	out, no := c.bizString("out_trade_no"), c.bizString("trade_no")
	if out == "" && no == "" {
		return nil, missing("isv.missing-parameter", "out_trade_no 和 trade_no 不能同时为空")
	}
	var t *trade
	if out != "" {
		t = s.trades[tradeKey(c.app, out)]
	} else {
		prefix := tradeKey(c.app, "")
		for k, cand := range s.trades {
			if cand.tradeNo == no && len(k) >= len(prefix) && k[:len(prefix)] == prefix {
				t = cand
			}
		}
	}
	if t == nil || (no != "" && t.tradeNo != no) {
		return nil, errTradeNotExist
	}
	s.refreshLocked(t)
	return t, nil
}

func (s *Server) tradeQuery(c *call) any {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, e := s.lookupLocked(c)
	if e != nil {
		return e
	}
	r := queryResponse{Code: okCode, Msg: okMsg, TradeNo: t.tradeNo, OutTradeNo: t.outTrade,
		TradeStatus: t.status, TotalAmount: domain.FormatYuan(t.totalFen), Subject: t.subject}
	if !t.paid.IsZero() {
		r.BuyerLogonID, r.BuyerUserID, r.BuyerOpenID = t.buyerLogon, t.buyerID, t.buyerOpenID
		r.BuyerPayAmount, r.ReceiptAmount, r.InvoiceAmount = domain.FormatYuan(t.totalFen), domain.FormatYuan(t.totalFen), domain.FormatYuan(t.totalFen)
		r.PointAmount = "0.00"
		r.SendPayDate = fmtTime(t.paid)
	}
	return r
}

func (s *Server) tradeClose(c *call) any {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, e := s.lookupLocked(c)
	if e != nil {
		return e
	}
	switch {
	case t.status == StatusWaitBuyerPay:
		t.status, t.closed = StatusClosed, c.now
	case t.status == StatusClosed && t.paid.IsZero():
		// already closed: idempotent
	default:
		return business("ACQ.TRADE_STATUS_ERROR", "交易状态不合法")
	}
	return closeResponse{Code: okCode, Msg: okMsg, TradeNo: t.tradeNo, OutTradeNo: t.outTrade}
}

func (s *Server) tradeRefund(c *call) any {
	amountStr, reqNo := c.bizString("refund_amount"), c.bizString("out_request_no")
	if amountStr == "" {
		return missing("isv.missing-parameter", "缺少必选参数 refund_amount")
	}
	amount, err := domain.ParseYuan(amountStr)
	if err != nil || amount <= 0 {
		return business("ACQ.INVALID_PARAMETER", "退款金额不合法")
	}
	s.mu.Lock()
	t, e := s.lookupLocked(c)
	if e != nil {
		s.mu.Unlock()
		return e
	}
	if reqNo == "" {
		reqNo = t.outTrade
	}
	resp := refundResponse{Code: okCode, Msg: okMsg, TradeNo: t.tradeNo, OutTradeNo: t.outTrade,
		BuyerLogonID: t.buyerLogon, BuyerUserID: t.buyerID, BuyerOpenID: t.buyerOpenID}
	if prev := t.findRefund(reqNo); prev != nil {
		defer s.mu.Unlock()
		if prev.amountFen != amount {
			return business("ACQ.DISCORDANT_REPEAT_REQUEST", "请求信息不一致")
		}
		resp.FundChange, resp.RefundFee, resp.GmtRefundPay = "N", domain.FormatYuan(t.refundedFen), fmtTime(prev.at)
		resp.SendBackFee = domain.FormatYuan(prev.amountFen)
		return resp
	}
	if t.paid.IsZero() || t.status == StatusClosed || t.status == StatusWaitBuyerPay {
		s.mu.Unlock()
		return business("ACQ.TRADE_STATUS_ERROR", "交易状态不合法")
	}
	if t.status == StatusFinished {
		s.mu.Unlock()
		return business("ACQ.TRADE_HAS_FINISHED", "交易已完结")
	}
	if t.refundedFen+amount > t.totalFen {
		s.mu.Unlock()
		return business("ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", "退款金额超限")
	}
	rf := &refund{outRequestNo: reqNo, amountFen: amount, reason: c.bizString("refund_reason"), at: c.now}
	t.refunds = append(t.refunds, rf)
	t.refundedFen += amount
	if t.refundedFen == t.totalFen {
		t.status, t.closed = StatusClosed, c.now
	}
	resp.FundChange, resp.RefundFee, resp.GmtRefundPay = "Y", domain.FormatYuan(t.refundedFen), fmtTime(rf.at)
	resp.SendBackFee = domain.FormatYuan(amount)
	n := s.notificationLocked(t, rf)
	notifyURL := t.notifyURL
	s.mu.Unlock()
	if notifyURL != "" {
		s.deliver(notifyURL, n)
	}
	return resp
}

func (s *Server) refundQuery(c *call) any {
	reqNo := c.bizString("out_request_no")
	if reqNo == "" {
		return missing("isv.missing-parameter", "缺少必选参数 out_request_no")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, e := s.lookupLocked(c)
	if e != nil {
		return e
	}
	resp := refundQueryResponse{Code: okCode, Msg: okMsg}
	rf := t.findRefund(reqNo)
	if rf == nil {
		// Alipay answers 10000 without refund fields when the refund is unknown.
		return resp
	}
	resp.TradeNo, resp.OutTradeNo, resp.OutRequestNo = t.tradeNo, t.outTrade, rf.outRequestNo
	resp.TotalAmount, resp.RefundAmount = domain.FormatYuan(t.totalFen), domain.FormatYuan(rf.amountFen)
	resp.RefundStatus, resp.SendBackFee = "REFUND_SUCCESS", domain.FormatYuan(rf.amountFen)
	// Like Alipay, the refund time only comes back when query_options asks for it.
	if slices.Contains(c.bizStrings("query_options"), "gmt_refund_pay") {
		resp.GmtRefundPay = fmtTime(rf.at)
	}
	return resp
}

// methodTokenQuery is alipay.open.auth.token.app.query: which merchant (user_id,
// auth_app_id) an ISV's app_auth_token acts for.
const methodTokenQuery = "alipay.open.auth.token.app.query"

type tokenQueryResponse struct {
	Code        string   `json:"code"`
	Msg         string   `json:"msg"`
	UserID      string   `json:"user_id"`
	AuthAppID   string   `json:"auth_app_id"`
	ExpiresIn   int64    `json:"expires_in"`
	AuthMethods []string `json:"auth_methods"`
	AuthStart   string   `json:"auth_start"`
	AuthEnd     string   `json:"auth_end"`
	Status      string   `json:"status"`
}

// tokenQuery answers for the token authenticate matched (c.app is the merchant
// that token acts for). A self-acting app has no token to ask about.
func tokenQuery(c *call) any {
	if len(c.app.AuthTokens) == 0 {
		return &apiError{Code: "20001", Msg: "Insufficient Token Permissions", SubCode: "aop.invalid-app-auth-token", SubMsg: "无效的应用授权令牌"}
	}
	return tokenQueryResponse{
		Code: okCode, Msg: okMsg, UserID: c.app.SellerID, AuthAppID: c.app.AuthAppID,
		ExpiresIn: 365 * 24 * 3600, AuthMethods: []string{"alipay.trade.wap.pay", "alipay.trade.query", "alipay.trade.close", "alipay.trade.refund"},
		AuthStart: fmtTime(c.now.AddDate(0, -1, 0)), AuthEnd: fmtTime(c.now.AddDate(1, 0, 0)), Status: "valid",
	}
}
