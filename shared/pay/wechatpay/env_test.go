package wechatpay_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/estatepay/estatepay/infra/sandbox/wechat"
	"github.com/estatepay/estatepay/shared/pay"
	"github.com/estatepay/estatepay/shared/pay/wechatpay"
)

const (
	platformKeyID = "PUB_KEY_ID_0114232134912410000000000000000001"
	directMchID   = "1900000109"
	directAppID   = "wxd678efh567hg6787"
	directSerial  = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
	spMchID       = "1900000100"
	spAppID       = "wx8888888888888888"
	subMchID      = "1900000001"
	subAppID      = "wxd678efh567hg6999"
	spSerial      = "1DDE55AD98ED71D6EDD4A4A16996DE7B47773A8C"
	apiV3Direct   = "0123456789abcdef0123456789abcdef"
	apiV3SP       = "fedcba9876543210fedcba9876543210"
	appSecret     = "secret-of-the-official-account-1"
)

type keySet struct{ platform, direct, sp, other *rsa.PrivateKey }

var keys = sync.OnceValue(func() keySet {
	gen := func() *rsa.PrivateKey {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		return k
	}
	return keySet{gen(), gen(), gen(), gen()}
})

// clock is the sandbox's business clock, movable by tests.
type clock struct {
	mu sync.Mutex
	d  time.Duration
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.d)
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.d += d
	c.mu.Unlock()
}

type parsed struct {
	n   pay.Notification
	err error
}

type parsedRefund struct {
	n   pay.RefundNotification
	err error
}

type env struct {
	sb        *wechat.Server
	url       string
	clock     *clock
	notifyURL string
	parsed    chan parsed
	// refundNotifyURL receives refund notifications, parsed into refunds.
	refundNotifyURL string
	refunds         chan parsedRefund
	p               *wechatpay.Provider
	cfg             wechatpay.Config
	// status decides the receiver's answer for the n-th callback (1-based).
	mu     sync.Mutex
	status func(n int) int
	hits   int
}

func newEnv(t *testing.T, mode string, retry []time.Duration) *env {
	t.Helper()
	k := keys()
	e := &env{clock: &clock{}, parsed: make(chan parsed, 64), refunds: make(chan parsedRefund, 64)}
	if retry == nil {
		retry = []time.Duration{time.Hour} // never retried within a test
	}
	e.sb = wechat.New(wechat.Config{
		PlatformKey:   k.platform,
		PlatformKeyID: platformKeyID,
		Merchants: []wechat.Merchant{
			{MchID: directMchID, SerialNo: directSerial, PublicKey: &k.direct.PublicKey, APIv3Key: apiV3Direct, AppIDs: []string{directAppID}},
			{MchID: spMchID, SerialNo: spSerial, PublicKey: &k.sp.PublicKey, APIv3Key: apiV3SP, AppIDs: []string{spAppID},
				SubMchIDs: []string{subMchID}},
		},
		Apps:          []wechat.App{{AppID: directAppID, Secret: appSecret}, {AppID: subAppID, Secret: appSecret}},
		RetrySchedule: retry,
		Now:           e.clock.Now,
		Logger:        slog.New(slog.DiscardHandler),
	})
	srv := httptest.NewServer(e.sb.Handler())
	e.url = srv.URL
	e.sb.SetBaseURL(srv.URL)

	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/notify/wechat-refund/") {
			n, err := e.p.ParseRefundNotification(r.Context(), r)
			e.refunds <- parsedRefund{n, err}
		} else {
			n, err := e.p.ParseNotification(r.Context(), r)
			e.parsed <- parsed{n, err}
		}
		e.mu.Lock()
		e.hits++
		status := http.StatusOK
		if e.status != nil {
			status = e.status(e.hits)
		}
		e.mu.Unlock()
		w.WriteHeader(status)
	}))
	e.notifyURL = receiver.URL + "/notify/wechat/test"
	e.refundNotifyURL = receiver.URL + "/notify/wechat-refund/test"
	t.Cleanup(func() {
		e.sb.Close()
		receiver.Close()
		srv.Close()
	})

	e.cfg = wechatpay.Config{
		Mode:                mode,
		PlatformPublicKeyID: platformKeyID,
		PlatformPublicKey:   &k.platform.PublicKey,
		BaseURL:             srv.URL,
	}
	if mode == wechatpay.ModeDirect {
		e.cfg.AppID, e.cfg.MchID = directAppID, directMchID
		e.cfg.MerchantSerialNo, e.cfg.MerchantPrivateKey, e.cfg.APIv3Key = directSerial, k.direct, apiV3Direct
	} else {
		e.cfg.SpAppID, e.cfg.SpMchID, e.cfg.SubMchID, e.cfg.SubAppID = spAppID, spMchID, subMchID, subAppID
		e.cfg.MerchantSerialNo, e.cfg.MerchantPrivateKey, e.cfg.APIv3Key = spSerial, k.sp, apiV3SP
	}
	p, err := wechatpay.New(e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.p = p
	return e
}

func (e *env) prepay(t *testing.T, order string, amount int64, openid string) pay.PrepayResult {
	t.Helper()
	res, err := e.p.Prepay(context.Background(), e.prepayReq(order, amount, openid))
	if err != nil {
		t.Fatalf("prepay %s: %v", order, err)
	}
	return res
}

func (e *env) prepayReq(order string, amount int64, openid string) pay.PrepayRequest {
	return pay.PrepayRequest{
		OrderID:     order,
		AmountFen:   amount,
		Description: "物业费 2024年1月 <1-2-301>",
		ExpireAt:    e.clock.Now().Add(30 * time.Minute),
		NotifyURL:   e.notifyURL,
		PayerID:     openid,
		ClientIP:    "127.0.0.1",
	}
}

// nextRefund waits for the next parsed refund notification.
func (e *env) nextRefund(t *testing.T) parsedRefund {
	t.Helper()
	select {
	case p := <-e.refunds:
		return p
	case <-time.After(10 * time.Second):
		t.Fatal("no refund notification received")
		return parsedRefund{}
	}
}

// paid opens and pays an order and consumes its payment callback.
func (e *env) paid(t *testing.T, order string, amount int64) {
	t.Helper()
	e.prepay(t, order, amount, "oRefundPayer")
	if err := e.sb.Pay(order); err != nil {
		t.Fatal(err)
	}
	if got := e.next(t); got.err != nil || got.n.OrderID != order {
		t.Fatalf("payment callback: %+v", got)
	}
}

// next waits for the next parsed callback.
func (e *env) next(t *testing.T) parsed {
	t.Helper()
	select {
	case p := <-e.parsed:
		return p
	case <-time.After(10 * time.Second):
		t.Fatal("no callback received")
		return parsed{}
	}
}
