// Package alipay is a sandbox of the Alipay open platform gateway that the
// real smartwalle/alipay SDK accepts unchanged: RSA2-signed gateway requests
// and responses (alipay.trade.wap.pay cashier, query, close, refund, refund
// query, bill download URL, the auth_base web authorisation page and
// alipay.system.oauth.token), the zh-CN wap cashier page, async notifications
// with Alipay's retry schedule, and the sync return to return_url.
package alipay

import (
	"context"
	"crypto/rsa"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"
)

// App is one application registered at the sandbox.
type App struct {
	AppID     string
	PublicKey *rsa.PublicKey // the app's public key, verifies its requests
	SellerID  string         // the merchant's 2088... pid, reported as seller_id
	// AuthTokens are the ISV app_auth_token values accepted for this app. When
	// non-empty, every call must carry one of them: the app is an ISV acting for
	// the merchant SellerID, whose own app is AuthAppID. Several App entries with
	// the same AppID and key are one ISV acting for several merchants.
	AuthTokens []string
	// AuthAppID is the authorising merchant's app id (ISV apps only). Alipay
	// reports it as auth_app_id in notifications and returns; for an app acting
	// for itself auth_app_id is the app's own AppID.
	AuthAppID string
}

// authApp is the auth_app_id Alipay reports for trades of a.
func (a App) authApp() string {
	if len(a.AuthTokens) > 0 {
		return a.AuthAppID
	}
	return a.AppID
}

// Config configures a Server.
type Config struct {
	AlipayKey *rsa.PrivateKey // signs responses and notifications
	Apps      []App
	// RetrySchedule is the wait before each re-delivery of an unacknowledged
	// async notification. Default: Alipay's 4m,10m,10m,1h,2h,6h,15h.
	RetrySchedule []time.Duration
	HTTPClient    *http.Client     // delivers notifications; default has a 10s timeout
	Now           func() time.Time // clock for trades, expiry and bills; default time.Now
	Logger        *slog.Logger     // default slog.Default()
	// OnDelivery, when set, is called after every notification delivery
	// attempt (from the delivery goroutine). Tests use it to wait for
	// deliveries without sleeping.
	OnDelivery func(Delivery)
	// SameDayBills serves today's bill so far instead of bill_not_exist
	// (the local stack: settle and reconcile today in a demo).
	SameDayBills bool
}

// DefaultRetrySchedule is Alipay's async-notify re-delivery schedule.
var DefaultRetrySchedule = []time.Duration{
	4 * time.Minute, 10 * time.Minute, 10 * time.Minute,
	time.Hour, 2 * time.Hour, 6 * time.Hour, 15 * time.Hour,
}

// ErrTradeNotFound is returned by Pay and NotificationFor for unknown trades.
var ErrTradeNotFound = errors.New("alipay sandbox: trade not found")

// Server is the sandbox. Create it with New; it is safe for concurrent use.
type Server struct {
	cfg    Config
	logger *slog.Logger
	client *http.Client

	ctx    context.Context // cancelled by Close; stops notification retries
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	baseURL string
	trades  map[string]*trade // scope + "\x00" + out_trade_no
	tickets map[string]string // cashier ticket -> trade key
	bills   map[string]billLink
	// authCodes are the auth_codes the authorize page issued (oauth.go).
	authCodes map[string]*authCode
	// billDiffs make rendered bills differ (InjectBillDifference).
	billDiffs []BillDifference
}

// New builds a sandbox server.
func New(cfg Config) *Server {
	if cfg.RetrySchedule == nil {
		cfg.RetrySchedule = DefaultRetrySchedule
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Server{
		cfg:     cfg,
		logger:  cfg.Logger,
		client:  cfg.HTTPClient,
		trades:  map[string]*trade{},
		tickets: map[string]string{},
		bills:   map[string]billLink{},

		authCodes: map[string]*authCode{},
	}
	if s.logger == nil {
		s.logger = slog.Default()
	}
	if s.client == nil {
		s.client = &http.Client{Timeout: 10 * time.Second}
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s
}

// SetBaseURL sets the externally visible base URL; the gateway is served at
// <base>/gateway.do and bill files under <base>/bill/.
func (s *Server) SetBaseURL(u string) {
	s.mu.Lock()
	s.baseURL = strings.TrimRight(u, "/")
	s.mu.Unlock()
}

// GatewayURL returns <base>/gateway.do (empty base if SetBaseURL was not called).
func (s *Server) GatewayURL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.baseURL + "/gateway.do"
}

// Close stops pending notification retries and waits for in-flight deliveries.
func (s *Server) Close() {
	s.cancel()
	s.wg.Wait()
}

// Handler serves the gateway, the cashier, bill downloads and the bill
// differences control endpoint.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/gateway.do", s.handleGateway)
	mux.HandleFunc("POST /cashier/pay", s.handleCashierPay)
	mux.HandleFunc("POST /cashier/cancel", s.handleCashierCancel)
	mux.HandleFunc("GET /bill/download", s.handleBillDownload)
	mux.HandleFunc("POST /sandbox/bill/differences", s.handleBillDifference)
	mux.HandleFunc("GET /oauth2/publicAppAuthorize.htm", s.handleAuthorize)
	return mux
}

func (s *Server) now() time.Time { return s.cfg.Now() }

// base returns the configured base URL, or one derived from the request.
func (s *Server) base(r *http.Request) string {
	s.mu.Lock()
	b := s.baseURL
	s.mu.Unlock()
	if b != "" {
		return b
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}
