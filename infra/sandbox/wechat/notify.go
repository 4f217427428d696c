package wechat

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// ErrTradeNotFound is returned for an unknown out_trade_no or prepay_id.
var ErrTradeNotFound = errors.New("wechat sandbox: trade not found")

// ErrTradeState is returned when a trade cannot be paid in its current state.
var ErrTradeState = errors.New("wechat sandbox: trade is not payable")

// Delivery is one callback attempt.
type Delivery struct {
	OutTradeNo  string
	OutRefundNo string // set for refund notifications
	EventType   string // TRANSACTION.SUCCESS, REFUND.SUCCESS, REFUND.ABNORMAL, REFUND.CLOSED
	EventID     string
	URL         string
	Attempt     int // 1 = first delivery
	Status      int // HTTP status; 0 on transport error
	Err         string
	OK          bool // the receiver answered 200/204
	Final       bool // no further retry will follow
}

// NotifyOptions varies a callback built by SignedNotification, to forge or
// replay variants. Zero values mean "like production".
type NotifyOptions struct {
	URL              string          // default: the trade's (refund's) notify_url
	EventID          string          // default: a fresh id
	Timestamp        time.Time       // Wechatpay-Timestamp; default: wall clock now
	KeyID            string          // Wechatpay-Serial; default: Config.PlatformKeyID
	SigningKey       *rsa.PrivateKey // default: Config.PlatformKey
	APIv3Key         string          // default: the merchant's
	TamperCiphertext bool            // flip a ciphertext byte, then sign
	TamperAfterSign  bool            // flip a ciphertext byte after signing
	// Transaction, when set, edits the transaction before it is encrypted and
	// signed (a genuine-looking callback with forged contents).
	Transaction func(map[string]any)
	// Refund, when set, edits a refund notification's resource the same way
	// (SignedRefundNotification).
	Refund func(map[string]any)
	// EventType overrides the event_type (default: TRANSACTION.SUCCESS, or
	// REFUND.<status> for refunds).
	EventType string
}

// Pay marks the unpaid trade with this out_trade_no as paid and starts
// delivering its TRANSACTION.SUCCESS callback in the background.
func (s *Server) Pay(outTradeNo string) error {
	s.mu.Lock()
	var t *trade
	for _, cand := range s.trades {
		if cand.outTradeNo == outTradeNo {
			if t != nil {
				s.mu.Unlock()
				return fmt.Errorf("wechat sandbox: out_trade_no %q exists at several merchants; use PayPrepay", outTradeNo)
			}
			t = cand
		}
	}
	s.mu.Unlock()
	if t == nil {
		return ErrTradeNotFound
	}
	return s.payTrade(t)
}

// PayPrepay pays the trade opened with this prepay_id.
func (s *Server) PayPrepay(prepayID string) error {
	s.mu.Lock()
	t := s.byPrepay[prepayID]
	s.mu.Unlock()
	if t == nil {
		return ErrTradeNotFound
	}
	return s.payTrade(t)
}

// PayWithoutCallback pays the trade like Pay but never delivers its
// callback: a payment whose notification was lost, which only a query or the
// day's bill reveals (reconciliation tests and demos).
func (s *Server) PayWithoutCallback(outTradeNo string) error {
	s.mu.Lock()
	var t *trade
	for _, cand := range s.trades {
		if cand.outTradeNo == outTradeNo {
			t = cand
		}
	}
	s.mu.Unlock()
	if t == nil {
		return ErrTradeNotFound
	}
	return s.markPaid(t)
}

func (s *Server) payTrade(t *trade) error {
	if err := s.markPaid(t); err != nil {
		return err
	}
	s.startDelivery(s.tradeNotice(t))
	return nil
}

func (s *Server) markPaid(t *trade) error {
	s.mu.Lock()
	now := s.now()
	t.expireIfDue(now)
	if t.state != StateNotPay {
		state := t.state
		s.mu.Unlock()
		return fmt.Errorf("%w: %s", ErrTradeState, state)
	}
	t.state = StateSuccess
	t.paidAt = now.Truncate(time.Second)
	t.txnID = s.newTxnID(now)
	s.byTxn[t.txnID] = t
	s.mu.Unlock()
	s.log.Info("trade paid", "out_trade_no", t.outTradeNo, "transaction_id", t.txnID, "total", t.total)
	return nil
}

// notice is a notification to deliver: what it is about, where it goes and
// how to build (sign and encrypt) one attempt of it.
type notice struct {
	outTradeNo, outRefundNo, eventType, url string
	build                                   func(context.Context, NotifyOptions) (*http.Request, error)
}

func (s *Server) tradeNotice(t *trade) notice {
	return notice{outTradeNo: t.outTradeNo, eventType: "TRANSACTION.SUCCESS", url: t.notifyURL,
		build: func(ctx context.Context, o NotifyOptions) (*http.Request, error) { return s.notification(ctx, t, o) }}
}

// startDelivery delivers n in the background, with retries.
func (s *Server) startDelivery(n notice) {
	s.wg.Add(1)
	go s.deliver(n)
}

// SignedNotification builds the callback request WeChat would POST for the
// trade (which must have been paid), optionally varied by o.
func (s *Server) SignedNotification(ctx context.Context, outTradeNo string, o NotifyOptions) (*http.Request, error) {
	s.mu.Lock()
	var t *trade
	for _, cand := range s.trades {
		if cand.outTradeNo == outTradeNo {
			t = cand
		}
	}
	s.mu.Unlock()
	if t == nil {
		return nil, ErrTradeNotFound
	}
	return s.notification(ctx, t, o)
}

func (s *Server) notification(ctx context.Context, t *trade, o NotifyOptions) (*http.Request, error) {
	s.mu.Lock()
	txn := t.transactionJSON()
	if o.Transaction != nil {
		o.Transaction(txn)
	}
	plain, err := json.Marshal(txn)
	paidAt, notifyURL := t.paidAt, t.notifyURL
	if paidAt.IsZero() {
		paidAt = s.now()
	}
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return s.signedCallback(ctx, callback{
		mchID: t.mchID, url: notifyURL, created: paidAt, eventType: "TRANSACTION.SUCCESS", summary: "支付成功",
		originalType: "transaction", plain: plain,
	}, o)
}

// callback is one notification's envelope and plaintext resource.
type callback struct {
	mchID        string // whose APIv3 key encrypts the resource
	url          string
	created      time.Time // create_time
	eventType    string
	summary      string
	originalType string // transaction | refund; also the associated data
	plain        []byte
}

// signedCallback encrypts cb's resource (AEAD_AES_256_GCM with the merchant's
// APIv3 key) and signs the envelope with the platform key, varied by o.
func (s *Server) signedCallback(ctx context.Context, cb callback, o NotifyOptions) (*http.Request, error) {
	if o.URL == "" {
		o.URL = cb.url
	}
	if o.EventType == "" {
		o.EventType = cb.eventType
	}
	if o.EventID == "" {
		o.EventID = randomUUID()
	}
	if o.Timestamp.IsZero() {
		o.Timestamp = time.Now()
	}
	if o.KeyID == "" {
		o.KeyID = s.cfg.PlatformKeyID
	}
	if o.SigningKey == nil {
		o.SigningKey = s.cfg.PlatformKey
	}
	if o.APIv3Key == "" {
		if m := s.merchants[cb.mchID]; m != nil {
			o.APIv3Key = m.APIv3Key
		}
	}
	nonce := randomNonce()[:12]
	ct, err := sealAESGCM(o.APIv3Key, nonce, cb.originalType, cb.plain)
	if err != nil {
		return nil, err
	}
	if o.TamperCiphertext {
		ct[0] ^= 0x01
	}
	env := map[string]any{
		"id":            o.EventID,
		"create_time":   cb.created.In(shanghai).Format(time.RFC3339),
		"resource_type": "encrypt-resource",
		"event_type":    o.EventType,
		"summary":       cb.summary,
		"resource": map[string]string{
			"original_type":   cb.originalType,
			"algorithm":       "AEAD_AES_256_GCM",
			"ciphertext":      base64.StdEncoding.EncodeToString(ct),
			"associated_data": cb.originalType,
			"nonce":           nonce,
		},
	}
	body, err := json.Marshal(env)
	if err != nil {
		return nil, err
	}
	h := http.Header{}
	if err := s.platformHeaders(h, body, o.Timestamp, o.KeyID, o.SigningKey); err != nil {
		return nil, err
	}
	if o.TamperAfterSign {
		ct[len(ct)-1] ^= 0x01
		env["resource"].(map[string]string)["ciphertext"] = base64.StdEncoding.EncodeToString(ct)
		if body, err = json.Marshal(env); err != nil {
			return nil, err
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.URL, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	for k, v := range h {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Mozilla/4.0")
	req.Header.Set("Request-ID", randomUUID())
	return req, nil
}

func sealAESGCM(key, nonce, ad string, plain []byte) ([]byte, error) {
	block, err := aes.NewCipher([]byte(key))
	if err != nil {
		return nil, fmt.Errorf("apiv3 key: %w", err)
	}
	gcm, err := cipher.NewGCMWithNonceSize(block, len(nonce))
	if err != nil {
		return nil, err
	}
	return gcm.Seal(nil, []byte(nonce), plain, []byte(ad)), nil
}

func randomUUID() string {
	h := randomHex(16)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// deliver posts the callback until the receiver accepts it or the retry
// schedule is exhausted. Each attempt is re-signed with a fresh timestamp.
func (s *Server) deliver(n notice) {
	defer s.wg.Done()
	eventID := randomUUID()
	for attempt := 1; ; attempt++ {
		d := s.attempt(n, eventID, attempt)
		retry := !d.OK && attempt <= len(s.cfg.RetrySchedule)
		d.Final = !retry
		s.record(d)
		if !retry {
			return
		}
		timer := time.NewTimer(s.cfg.RetrySchedule[attempt-1])
		select {
		case <-s.ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		}
	}
}

func (s *Server) attempt(no notice, eventID string, n int) Delivery {
	d := Delivery{OutTradeNo: no.outTradeNo, OutRefundNo: no.outRefundNo, EventType: no.eventType, EventID: eventID, URL: no.url, Attempt: n}
	ctx, cancel := context.WithTimeout(s.ctx, 15*time.Second)
	defer cancel()
	req, err := no.build(ctx, NotifyOptions{EventID: eventID})
	if err != nil {
		d.Err = err.Error()
		return d
	}
	resp, err := s.cfg.HTTPClient.Do(req)
	if err != nil {
		d.Err = err.Error()
		return d
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	d.Status = resp.StatusCode
	d.OK = resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusNoContent
	return d
}

func (s *Server) record(d Delivery) {
	s.log.Info("callback delivery", "event_type", d.EventType, "out_trade_no", d.OutTradeNo, "out_refund_no", d.OutRefundNo, "attempt", d.Attempt, "status", d.Status, "ok", d.OK, "err", d.Err)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deliveries = append(s.deliveries, d)
	for _, ch := range s.subs {
		select {
		case ch <- d:
		default: // a slow subscriber misses events rather than blocking delivery
		}
	}
}

// Deliveries returns every callback attempt so far, oldest first.
func (s *Server) Deliveries() []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Delivery(nil), s.deliveries...)
}

// Subscribe returns a channel receiving each callback attempt from now on
// (buffered; 1024 events) and a function that ends the subscription.
func (s *Server) Subscribe() (<-chan Delivery, func()) {
	ch := make(chan Delivery, 1024)
	s.mu.Lock()
	id := s.nextSub
	s.nextSub++
	s.subs[id] = ch
	s.mu.Unlock()
	return ch, func() {
		s.mu.Lock()
		delete(s.subs, id)
		s.mu.Unlock()
	}
}
