package alipay

import (
	"github.com/estatepay/estatepay/shared/domain"

	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Notification is one trade_status_sync async notification, as Alipay posts
// it to notify_url. Build one with Server.NotificationFor, change fields to
// forge variants, and render it with Form.
type Notification struct {
	NotifyID     string
	NotifyTime   time.Time
	AppID        string
	AuthAppID    string
	SellerID     string
	TradeNo      string
	OutTradeNo   string
	Subject      string
	TradeStatus  string
	TotalFen     int64
	BuyerID      string
	BuyerOpenID  string
	BuyerLogonID string
	GmtCreate    time.Time
	GmtPayment   time.Time
	GmtClose     time.Time
	// Refund notifications (Alipay notifies refunds of wap trades).
	OutBizNo     string
	RefundFeeFen int64 // cumulative refunded amount
	GmtRefund    time.Time
}

// Form renders the notification as the form Alipay posts (no empty values),
// signed with key (the Alipay private key) via SignForm.
func (n Notification) Form(key *rsa.PrivateKey) (url.Values, error) {
	f := url.Values{}
	set := func(k, v string) {
		if v != "" {
			f.Set(k, v)
		}
	}
	set("notify_time", fmtTime(n.NotifyTime))
	set("notify_type", "trade_status_sync")
	set("notify_id", n.NotifyID)
	set("app_id", n.AppID)
	set("auth_app_id", n.AuthAppID)
	set("charset", "utf-8")
	set("version", "1.0")
	set("trade_no", n.TradeNo)
	set("out_trade_no", n.OutTradeNo)
	set("buyer_id", n.BuyerID)
	set("buyer_open_id", n.BuyerOpenID)
	set("buyer_logon_id", n.BuyerLogonID)
	set("seller_id", n.SellerID)
	set("trade_status", n.TradeStatus)
	set("subject", n.Subject)
	set("total_amount", domain.FormatYuan(n.TotalFen))
	set("gmt_create", fmtTime(n.GmtCreate))
	set("gmt_payment", fmtTime(n.GmtPayment))
	set("gmt_close", fmtTime(n.GmtClose))
	if !n.GmtPayment.IsZero() {
		amt := domain.FormatYuan(n.TotalFen)
		set("receipt_amount", amt)
		set("invoice_amount", amt)
		set("buyer_pay_amount", amt)
		set("point_amount", "0.00")
		set("fund_bill_list", `[{"amount":"`+amt+`","fundChannel":"ALIPAYACCOUNT"}]`)
	}
	if n.OutBizNo != "" {
		set("out_biz_no", n.OutBizNo)
		set("refund_fee", domain.FormatYuan(n.RefundFeeFen))
		set("gmt_refund", n.GmtRefund.In(cst).Format("2006-01-02 15:04:05.000"))
	}
	if err := SignForm(key, f); err != nil {
		return nil, err
	}
	return f, nil
}

// notificationLocked describes t's current state (and rf, for a refund).
func (s *Server) notificationLocked(t *trade, rf *refund) Notification {
	n := Notification{
		NotifyID:   randomHex(16),
		NotifyTime: s.now(),
		AppID:      t.app.AppID, AuthAppID: t.authApp, SellerID: t.app.SellerID,
		TradeNo: t.tradeNo, OutTradeNo: t.outTrade, Subject: t.subject,
		TradeStatus: t.status, TotalFen: t.totalFen,
		BuyerID: t.buyerID, BuyerOpenID: t.buyerOpenID, BuyerLogonID: t.buyerLogon,
		GmtCreate: t.created, GmtPayment: t.paid, GmtClose: t.closed,
	}
	if rf != nil {
		n.OutBizNo, n.RefundFeeFen, n.GmtRefund = rf.outRequestNo, t.refundedFen, rf.at
	}
	return n
}

// findByOutTradeNoLocked finds the only trade with this out_trade_no.
func (s *Server) findByOutTradeNoLocked(outTradeNo string) (*trade, error) {
	var found *trade
	for k, t := range s.trades {
		if strings.HasSuffix(k, "\x00"+outTradeNo) {
			if found != nil {
				return nil, fmt.Errorf("alipay sandbox: out_trade_no %q exists for several merchants", outTradeNo)
			}
			found = t
		}
	}
	if found == nil {
		return nil, ErrTradeNotFound
	}
	s.refreshLocked(found)
	return found, nil
}

// NotificationFor returns the notification Alipay would send now for the
// trade with this out_trade_no (fresh notify_id).
func (s *Server) NotificationFor(outTradeNo string) (Notification, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.findByOutTradeNoLocked(outTradeNo)
	if err != nil {
		return Notification{}, err
	}
	return s.notificationLocked(t, nil), nil
}

// TradeStatus reports the trade_status of the trade with this out_trade_no.
func (s *Server) TradeStatus(outTradeNo string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.findByOutTradeNoLocked(outTradeNo)
	if err != nil {
		return "", err
	}
	return t.status, nil
}

// ErrNotPayable is returned by Pay when the trade is closed or expired.
var ErrNotPayable = errors.New("alipay sandbox: trade is closed")

// Pay pays the (already opened) trade as the cashier's 支付 button does:
// TRADE_SUCCESS, then the async notification. Paying a paid trade is a no-op.
func (s *Server) Pay(outTradeNo string) error {
	s.mu.Lock()
	t, err := s.findByOutTradeNoLocked(outTradeNo)
	if err != nil {
		s.mu.Unlock()
		return err
	}
	_, err = s.payLocked(t, "")
	s.mu.Unlock()
	return err
}

// payLocked marks t paid by sandbox user uid ("" is a new random buyer) and
// starts the notification. The caller holds s.mu; deliver only starts a
// goroutine.
func (s *Server) payLocked(t *trade, uid string) (bool, error) {
	switch t.status {
	case StatusSuccess, StatusFinished:
		return false, nil
	case StatusClosed:
		return false, ErrNotPayable
	}
	t.status, t.paid = StatusSuccess, s.now()
	t.buyerID, t.buyerOpenID, t.buyerLogon = newBuyer()
	if uid != "" {
		t.buyerID, t.buyerOpenID = UserID(uid), OpenID(t.app.AppID, uid)
	}
	if t.notifyURL != "" {
		s.deliver(t.notifyURL, s.notificationLocked(t, nil))
	}
	return true, nil
}

// Delivery reports one notification delivery attempt.
type Delivery struct {
	NotifyID    string
	OutTradeNo  string
	TradeStatus string
	URL         string
	Attempt     int // 1 for the first delivery
	StatusCode  int
	Body        string // response body (truncated to 256 bytes)
	Err         error  // transport error
	Acked       bool   // the body was exactly "success"
	GaveUp      bool   // not acked and no retries left (or the server closed)
}

// deliver posts n to notifyURL in the background, retrying on RetrySchedule
// until the receiver answers exactly "success". It never blocks.
func (s *Server) deliver(notifyURL string, n Notification) {
	form, err := n.Form(s.cfg.AlipayKey)
	if err != nil {
		s.logger.Error("alipay sandbox: sign notification", "err", err)
		return
	}
	body := form.Encode()
	if s.ctx.Err() != nil {
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for attempt := 1; ; attempt++ {
			d := s.postOnce(notifyURL, body)
			d.NotifyID, d.OutTradeNo, d.TradeStatus, d.URL, d.Attempt = n.NotifyID, n.OutTradeNo, n.TradeStatus, notifyURL, attempt
			var wait time.Duration
			if !d.Acked {
				if attempt-1 < len(s.cfg.RetrySchedule) {
					wait = s.cfg.RetrySchedule[attempt-1]
				} else {
					d.GaveUp = true
				}
			}
			if s.ctx.Err() != nil && !d.Acked {
				d.GaveUp = true
			}
			s.logger.Info("alipay sandbox: notify", "out_trade_no", n.OutTradeNo, "notify_id", n.NotifyID,
				"attempt", attempt, "status", d.StatusCode, "acked", d.Acked, "gave_up", d.GaveUp)
			if s.cfg.OnDelivery != nil {
				s.cfg.OnDelivery(d)
			}
			if d.Acked || d.GaveUp {
				return
			}
			timer := time.NewTimer(wait)
			select {
			case <-timer.C:
			case <-s.ctx.Done():
				timer.Stop()
				return
			}
		}
	}()
}

func (s *Server) postOnce(notifyURL, body string) Delivery {
	var d Delivery
	req, err := http.NewRequestWithContext(s.ctx, http.MethodPost, notifyURL, strings.NewReader(body))
	if err != nil {
		d.Err = err
		return d
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	resp, err := s.client.Do(req)
	if err != nil {
		d.Err = err
		return d
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	d.StatusCode = resp.StatusCode
	d.Acked = resp.StatusCode == http.StatusOK && string(b) == "success"
	if len(b) > 256 {
		b = b[:256]
	}
	d.Body = string(b)
	return d
}
