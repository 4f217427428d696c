// Package alipay is the Alipay open-platform adapter of the pay.Provider port,
// built on github.com/smartwalle/alipay/v3 in public-key (not certificate)
// mode with RSA2 signatures, optionally acting for a merchant as an ISV via
// app_auth_token.
package alipay

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	sdk "github.com/smartwalle/alipay/v3"

	"github.com/estatepay/estatepay/shared/domain/calendar"
	"github.com/estatepay/estatepay/shared/pay"
)

// DefaultGatewayURL is Alipay's production gateway.
const DefaultGatewayURL = "https://openapi.alipay.com/gateway.do"

// Config configures one Alipay merchant interface.
type Config struct {
	AppID           string
	PrivateKey      string // app RSA2 private key: PEM (PKCS#1 or PKCS#8) or raw base64 DER
	AlipayPublicKey string // Alipay public key: PEM or raw base64 (PKIX)
	AppAuthToken    string // ISV mode: sent as app_auth_token on every call
	// AuthAppID is, in ISV mode (AppAuthToken set), the app id of the merchant
	// that authorised us: Alipay reports it as auth_app_id. Required in ISV mode.
	AuthAppID string
	// SellerID is the merchant's 2088… pid that must receive the money. Required:
	// every notification must report exactly this seller_id.
	SellerID   string
	GatewayURL string // default DefaultGatewayURL
	HTTPClient *http.Client
}

// isv reports whether the adapter acts for a merchant with an app_auth_token.
func (c Config) isv() bool { return c.AppAuthToken != "" }

// merchantApp is the app a payment must name: the authorising merchant's app in
// ISV mode, else our own.
func (c Config) merchantApp() string {
	if c.isv() {
		return c.AuthAppID
	}
	return c.AppID
}

// Provider implements pay.Provider for Alipay.
type Provider struct {
	cfg    Config
	client *sdk.Client
	http   *http.Client

	mu           sync.Mutex
	tokenChecked bool // ISV: Alipay confirmed the app_auth_token is the configured merchant's
}

var _ pay.Provider = (*Provider)(nil)

// cst is the business calendar's zone (Asia/Shanghai).
var cst = calendar.Shanghai

const timeLayout = "2006-01-02 15:04:05"

// New validates cfg and builds the SDK client.
func New(cfg Config) (*Provider, error) {
	if cfg.AppID == "" {
		return nil, errors.New("alipay: AppID is required")
	}
	// Fail closed (C1): without the seller (and, in ISV mode, the merchant's app)
	// there is nothing to hold a payment report against.
	if cfg.SellerID == "" {
		return nil, errors.New("alipay: SellerID is required")
	}
	if cfg.isv() && cfg.AuthAppID == "" {
		return nil, errors.New("alipay: AuthAppID is required with an AppAuthToken")
	}
	if !cfg.isv() && cfg.AuthAppID != "" {
		return nil, errors.New("alipay: AuthAppID without an AppAuthToken")
	}
	if strings.TrimSpace(cfg.AlipayPublicKey) == "" {
		return nil, errors.New("alipay: AlipayPublicKey is required")
	}
	if cfg.GatewayURL == "" {
		cfg.GatewayURL = DefaultGatewayURL
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 15 * time.Second}
	}
	// isProduction must be true for WithProductionGateway to take effect.
	client, err := sdk.New(cfg.AppID, strings.TrimSpace(cfg.PrivateKey), true,
		sdk.WithProductionGateway(cfg.GatewayURL), sdk.WithHTTPClient(hc), sdk.WithTimeLocation(cst))
	if err != nil {
		// The SDK error can quote key material parsing details; keep it generic.
		return nil, errors.New("alipay: invalid app private key")
	}
	if err := client.LoadAliPayPublicKey(strings.TrimSpace(cfg.AlipayPublicKey)); err != nil {
		return nil, fmt.Errorf("alipay: invalid Alipay public key: %w", err)
	}
	return &Provider{cfg: cfg, client: client, http: hc}, nil
}

// Channel reports pay.Alipay.
func (p *Provider) Channel() pay.Channel { return pay.Alipay }

// Sub-codes the adapter acts on.
const (
	subTradeNotExist    = "ACQ.TRADE_NOT_EXIST"
	subTradeStatusError = "ACQ.TRADE_STATUS_ERROR"
)

// wrapErr wraps a transport error or an SDK error (including unsigned
// gateway errors the SDK returns as *sdk.Error) in pay.ErrProvider.
func wrapErr(op string, err error) error {
	var pe *sdk.Error
	if errors.As(err, &pe) && pe != nil {
		return businessErr(op, *pe)
	}
	return fmt.Errorf("alipay %s: %w: %w", op, pay.ErrProvider, err)
}

// BusinessError is a non-10000 gateway answer; errors returned by the
// Provider wrap it (errors.As) alongside pay.ErrProvider.
type BusinessError struct {
	Code, Msg, SubCode, SubMsg string
}

func (e *BusinessError) Error() string {
	return fmt.Sprintf("%s %s (%s %s)", e.Code, e.Msg, e.SubCode, e.SubMsg)
}

func businessErr(op string, e sdk.Error) error {
	return fmt.Errorf("alipay %s: %w: %w", op, pay.ErrProvider,
		&BusinessError{Code: string(e.Code), Msg: e.Msg, SubCode: e.SubCode, SubMsg: e.SubMsg})
}

// SubCode returns the Alipay sub_code carried by err, or "".
func SubCode(err error) string {
	var be *BusinessError
	if errors.As(err, &be) {
		return be.SubCode
	}
	return ""
}
