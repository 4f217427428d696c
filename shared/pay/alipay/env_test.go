package alipay_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	sandbox "github.com/estatepay/estatepay/infra/sandbox/alipay"
	"github.com/estatepay/estatepay/shared/pay"
	"github.com/estatepay/estatepay/shared/pay/alipay"
)

const (
	testAppID  = "2021000000000001"
	testSeller = "2088000000000001"
)

var (
	keysOnce                    sync.Once
	appKey, alipayKey, rogueKey *rsa.PrivateKey
)

func keys(t *testing.T) {
	t.Helper()
	keysOnce.Do(func() {
		gen := func() *rsa.PrivateKey {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				panic(err)
			}
			return k
		}
		appKey, alipayKey, rogueKey = gen(), gen(), gen()
	})
}

func privatePEM(t *testing.T, k *rsa.PrivateKey) string {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

func publicPEM(t *testing.T, k *rsa.PublicKey) string {
	der, err := x509.MarshalPKIXPublicKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// clock is an injectable sandbox clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

var cst = time.FixedZone("CST", 8*3600)

// env is a sandbox gateway on a loopback port plus a merchant notify server
// that runs ParseNotification and acks "success" when it succeeds.
type env struct {
	sb         *sandbox.Server
	gw         *httptest.Server
	clock      *clock
	p          *alipay.Provider
	notifyURL  string
	notes      chan pay.Notification
	deliveries chan sandbox.Delivery
}

type envOpt func(*sandbox.Config)

func newEnv(t *testing.T, opts ...envOpt) *env {
	t.Helper()
	keys(t)
	e := &env{
		clock:      &clock{now: time.Date(2025, 3, 14, 10, 0, 0, 0, cst)},
		notes:      make(chan pay.Notification, 64),
		deliveries: make(chan sandbox.Delivery, 256),
	}
	cfg := sandbox.Config{
		AlipayKey:     alipayKey,
		Apps:          []sandbox.App{{AppID: testAppID, PublicKey: &appKey.PublicKey, SellerID: testSeller}},
		RetrySchedule: []time.Duration{time.Millisecond, time.Millisecond, time.Millisecond},
		Now:           e.clock.Now,
		OnDelivery:    func(d sandbox.Delivery) { e.deliveries <- d }, // buffered; tests stay well under 256
	}
	for _, o := range opts {
		o(&cfg)
	}
	e.sb = sandbox.New(cfg)
	e.gw = httptest.NewServer(e.sb.Handler())
	e.sb.SetBaseURL(e.gw.URL)
	t.Cleanup(func() { e.gw.Close(); e.sb.Close() })
	e.p = e.provider(t, alipay.Config{})

	ns := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := e.p.ParseNotification(r.Context(), r)
		if err != nil {
			http.Error(w, "fail", http.StatusBadRequest)
			return
		}
		e.notes <- n
		_, _ = w.Write([]byte("success"))
	}))
	t.Cleanup(ns.Close)
	e.notifyURL = ns.URL + "/notify/alipay/iface1"
	return e
}

// provider builds an adapter against the sandbox; zero fields of over take
// the env defaults.
func (e *env) provider(t *testing.T, over alipay.Config) *alipay.Provider {
	t.Helper()
	cfg := alipay.Config{
		AppID:           testAppID,
		PrivateKey:      privatePEM(t, appKey),
		AlipayPublicKey: publicPEM(t, &alipayKey.PublicKey),
		SellerID:        testSeller,
		GatewayURL:      e.gw.URL + "/gateway.do",
		HTTPClient:      e.gw.Client(),
		AppAuthToken:    over.AppAuthToken,
	}
	if over.PrivateKey != "" {
		cfg.PrivateKey = over.PrivateKey
	}
	if over.AlipayPublicKey != "" {
		cfg.AlipayPublicKey = over.AlipayPublicKey
	}
	if over.AppID != "" {
		cfg.AppID = over.AppID
	}
	if over.SellerID != "" {
		cfg.SellerID = over.SellerID
	}
	cfg.AuthAppID = over.AuthAppID
	p, err := alipay.New(cfg)
	if err != nil {
		t.Fatalf("alipay.New: %v", err)
	}
	return p
}

func (e *env) waitNote(t *testing.T) pay.Notification {
	t.Helper()
	select {
	case n := <-e.notes:
		return n
	case <-time.After(10 * time.Second):
		t.Fatal("timed out waiting for a notification")
	}
	return pay.Notification{}
}

func (e *env) waitDelivery(t *testing.T) sandbox.Delivery {
	t.Helper()
	select {
	case d := <-e.deliveries:
		return d
	case <-time.After(10 * time.Second):
		t.Fatal("timed out waiting for a delivery attempt")
	}
	return sandbox.Delivery{}
}
