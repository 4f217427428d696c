// Package wechat is a WeChat Pay sandbox: an http.Handler that speaks the real
// WeChat Pay API v3 protocol (merchant request signatures, platform-signed
// responses, AEAD_AES_256_GCM callbacks with retries), the official-account
// OAuth snsapi_base flow, a cashier page and a WeixinJSBridge shim, so that the
// unmodified wechatpay-go SDK and a browser can run against it.
//
// Signature timestamps (both directions) use the wall clock, because the SDK
// checks them against time.Now; business time (trade creation, expiry, payment,
// bill days) uses Config.Now so tests can move it.
package wechat

import (
	"context"
	"crypto/rsa"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Merchant is a WeChat Pay merchant (direct merchant or service provider).
type Merchant struct {
	MchID     string
	SerialNo  string         // serial number of the merchant API certificate / key
	PublicKey *rsa.PublicKey // verifies request signatures and JSAPI paySign
	APIv3Key  string         // 32 bytes; encrypts callbacks
	AppIDs    []string       // appids bound to this mchid (sp_appid in partner mode)
	SubMchIDs []string       // partner mode: sub-merchants served by this service provider
	SubAppIDs []string       // partner mode: accepted sub_appid values (empty: any)
}

// App is an official account (公众号) for OAuth.
type App struct {
	AppID, Secret string
}

// Config configures a Server.
type Config struct {
	PlatformKey   *rsa.PrivateKey // WeChat Pay platform key: signs responses and callbacks
	PlatformKeyID string          // e.g. PUB_KEY_ID_0114...; sent as Wechatpay-Serial
	Merchants     []Merchant
	Apps          []App
	// RetrySchedule is the wait before each callback retry. Default WeChat's:
	// 15s,15s,30s,3m,10m,20m,30m,30m,30m,60m,3h,3h,3h,6h,6h.
	RetrySchedule []time.Duration
	HTTPClient    *http.Client     // for callbacks; default 10s timeout
	Now           func() time.Time // business clock; default time.Now
	Logger        *slog.Logger
	// SameDayBills serves today's bill so far instead of STATEMENT_CREATING
	// (the local stack: settle and reconcile today in a demo).
	SameDayBills bool
}

// DefaultRetrySchedule is WeChat Pay's callback retry schedule.
var DefaultRetrySchedule = []time.Duration{
	15 * time.Second, 15 * time.Second, 30 * time.Second, 3 * time.Minute,
	10 * time.Minute, 20 * time.Minute, 30 * time.Minute, 30 * time.Minute,
	30 * time.Minute, 60 * time.Minute, 3 * time.Hour, 3 * time.Hour,
	3 * time.Hour, 6 * time.Hour, 6 * time.Hour,
}

// shanghai is China Standard Time (no DST), WeChat's business time zone.
var shanghai = time.FixedZone("CST", 8*3600)

// Server is the sandbox. Create it with New; it is safe for concurrent use.
type Server struct {
	cfg       Config
	log       *slog.Logger
	merchants map[string]*Merchant
	apps      map[string]App

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	baseURL  string
	trades   map[string]*trade // key: merchantKey + "|" + out_trade_no
	byPrepay map[string]*trade
	byTxn    map[string]*trade
	refunds  map[string]*refund // key: merchantKey + "|" + out_refund_no
	// refundOutcomes: how refunds with an out_refund_no end (SetRefundOutcome).
	refundOutcomes map[string]string
	codes          map[string]*oauthCode
	openids        map[string]string    // openid -> appid it was issued for
	bills          map[string]*billFile // download token -> file
	deliveries     []Delivery
	subs           map[int]chan Delivery
	nextSub        int
	seq            int64
	// answerEdits rewrite query answers per out_trade_no (EditQueryAnswers).
	answerEdits map[string]func(map[string]any)
	// billDiffs make rendered bills differ (InjectBillDifference).
	billDiffs []BillDifference
	// fenfuPayers answer the exposure call per openid (SetFenfuPayer);
	// exposureTokens are the market_exposure_tokens it issued.
	fenfuPayers    map[string]FenfuPayer
	exposureTokens map[string]exposureToken
}

// New creates a sandbox server.
func New(cfg Config) *Server {
	if cfg.RetrySchedule == nil {
		cfg.RetrySchedule = DefaultRetrySchedule
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{
		cfg:       cfg,
		log:       cfg.Logger.With("component", "wechat-sandbox"),
		merchants: map[string]*Merchant{},
		apps:      map[string]App{},
		trades:    map[string]*trade{},
		byPrepay:  map[string]*trade{},
		byTxn:     map[string]*trade{},
		refunds:   map[string]*refund{},
		codes:     map[string]*oauthCode{},
		openids:   map[string]string{},
		bills:     map[string]*billFile{},
		subs:      map[int]chan Delivery{},
	}
	for i := range cfg.Merchants {
		m := cfg.Merchants[i]
		s.merchants[m.MchID] = &m
	}
	for _, a := range cfg.Apps {
		s.apps[a.AppID] = a
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s
}

// SetBaseURL sets the sandbox's own public URL (used in bill download links and
// by the JS bridge shim). Without it the request's Host is used.
func (s *Server) SetBaseURL(u string) {
	s.mu.Lock()
	s.baseURL = strings.TrimRight(u, "/")
	s.mu.Unlock()
}

// Close stops pending callback retries and waits for in-flight deliveries.
func (s *Server) Close() {
	s.cancel()
	s.wg.Wait()
}

func (s *Server) now() time.Time { return s.cfg.Now() }

// publicBase is the URL prefix for links in responses.
func (s *Server) publicBase(r *http.Request) string {
	s.mu.Lock()
	b := s.baseURL
	s.mu.Unlock()
	if b != "" {
		return b
	}
	scheme := "http"
	if r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https" {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// Handler returns the sandbox's HTTP handler.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	// Direct merchant payments.
	mux.HandleFunc("POST /v3/pay/transactions/jsapi", s.merchantAPI(s.handlePrepay(false, "JSAPI")))
	mux.HandleFunc("POST /v3/pay/transactions/native", s.merchantAPI(s.handlePrepay(false, "NATIVE")))
	mux.HandleFunc("GET /v3/pay/transactions/out-trade-no/{no}", s.merchantAPI(s.handleQuery(false, false)))
	mux.HandleFunc("GET /v3/pay/transactions/id/{no}", s.merchantAPI(s.handleQuery(false, true)))
	mux.HandleFunc("POST /v3/pay/transactions/out-trade-no/{no}/close", s.merchantAPI(s.handleClose(false)))
	// Service provider (partner) payments.
	mux.HandleFunc("POST /v3/pay/partner/transactions/jsapi", s.merchantAPI(s.handlePrepay(true, "JSAPI")))
	mux.HandleFunc("POST /v3/pay/partner/transactions/native", s.merchantAPI(s.handlePrepay(true, "NATIVE")))
	mux.HandleFunc("GET /v3/pay/partner/transactions/out-trade-no/{no}", s.merchantAPI(s.handleQuery(true, false)))
	mux.HandleFunc("GET /v3/pay/partner/transactions/id/{no}", s.merchantAPI(s.handleQuery(true, true)))
	mux.HandleFunc("POST /v3/pay/partner/transactions/out-trade-no/{no}/close", s.merchantAPI(s.handleClose(true)))
	// Refunds and bills.
	mux.HandleFunc("POST /v3/refund/domestic/refunds", s.merchantAPI(s.handleRefund))
	mux.HandleFunc("GET /v3/refund/domestic/refunds/{no}", s.merchantAPI(s.handleRefundQuery))
	mux.HandleFunc("GET /v3/bill/tradebill", s.merchantAPI(s.handleTradeBill))
	mux.HandleFunc("GET /v3/billdownload/file", s.merchantAPI(s.handleBillDownload))
	// OAuth (open.weixin.qq.com / api.weixin.qq.com).
	mux.HandleFunc("GET /connect/oauth2/authorize", s.handleAuthorize)
	mux.HandleFunc("GET /sns/oauth2/access_token", s.handleAccessToken)
	// Browser side.
	mux.HandleFunc("POST /v3/pay/transactions/exposure", s.merchantAPI(s.handleExposure))
	mux.HandleFunc("/sandbox/fenfu", s.handleFenfuPage)
	mux.HandleFunc("GET /sandbox/jsbridge.js", s.handleJSBridge)
	mux.HandleFunc("GET /sandbox/cashier", s.handleCashier)
	mux.HandleFunc("POST /sandbox/cashier", s.handleCashierAction)
	mux.HandleFunc("POST /sandbox/bill/differences", s.handleBillDifference)
	mux.HandleFunc("/v3/", func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, http.StatusNotFound, "NOT_FOUND", "接口不存在")
	})
	return mux
}
