// Package wechatpay is the WeChat Pay API v3 adapter for pay.Provider, built on
// github.com/wechatpay-apiv3/wechatpay-go in platform-public-key mode. It serves
// a direct merchant ("direct") or a service provider acting for one
// sub-merchant ("partner").
package wechatpay

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/wechatpay-apiv3/wechatpay-go/core"
	"github.com/wechatpay-apiv3/wechatpay-go/core/auth/verifiers"
	"github.com/wechatpay-apiv3/wechatpay-go/core/notify"
	"github.com/wechatpay-apiv3/wechatpay-go/core/option"

	"github.com/estatepay/estatepay/shared/domain/calendar"
	"github.com/estatepay/estatepay/shared/pay"
)

// Modes.
const (
	ModeDirect  = "direct"
	ModePartner = "partner"
)

// DefaultBaseURL is WeChat Pay's API host.
const DefaultBaseURL = "https://api.mch.weixin.qq.com"

// Config configures one merchant interface.
type Config struct {
	Mode string // "direct" | "partner"
	// Direct merchant.
	AppID, MchID string
	// Partner (service provider) mode; SubAppID is optional.
	SpAppID, SpMchID, SubMchID, SubAppID string

	MerchantSerialNo    string          // serial number of the merchant API certificate
	MerchantPrivateKey  *rsa.PrivateKey // signs requests and JSAPI paySign
	APIv3Key            string          // 32 bytes; decrypts callbacks
	PlatformPublicKeyID string          // PUB_KEY_ID_...; expected Wechatpay-Serial
	PlatformPublicKey   *rsa.PublicKey  // verifies responses and callbacks
	BaseURL             string          // default https://api.mch.weixin.qq.com
	HTTPClient          *http.Client    // default: 30s timeout
}

// Provider implements pay.Provider for WeChat Pay.
type Provider struct {
	cfg      Config
	client   *core.Client
	notifier *notify.Handler
}

var _ pay.Provider = (*Provider)(nil)

// shanghai is the business calendar's zone (Asia/Shanghai).
var shanghai = calendar.Shanghai

// New validates cfg and builds the SDK client, redirected to cfg.BaseURL.
func New(cfg Config) (*Provider, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultBaseURL
	}
	base, err := url.Parse(cfg.BaseURL)
	if err != nil || base.Scheme == "" || base.Host == "" {
		return nil, fmt.Errorf("wechatpay: invalid BaseURL %q", cfg.BaseURL)
	}
	hc := redirectClient(cfg.HTTPClient, base)
	client, err := core.NewClient(context.Background(),
		option.WithWechatPayPublicKeyAuthCipher(cfg.signingMchID(), cfg.MerchantSerialNo, cfg.MerchantPrivateKey,
			cfg.PlatformPublicKeyID, cfg.PlatformPublicKey),
		option.WithHTTPClient(hc),
	)
	if err != nil {
		return nil, fmt.Errorf("wechatpay: new client: %w", err)
	}
	verifier := verifiers.NewSHA256WithRSAPubkeyVerifier(cfg.PlatformPublicKeyID, *cfg.PlatformPublicKey)
	notifier, err := notify.NewRSANotifyHandler(cfg.APIv3Key, verifier)
	if err != nil {
		return nil, fmt.Errorf("wechatpay: notify handler: %w", err)
	}
	return &Provider{cfg: cfg, client: client, notifier: notifier}, nil
}

func (c Config) validate() error {
	var missing []string
	need := func(name, v string) {
		if v == "" {
			missing = append(missing, name)
		}
	}
	switch c.Mode {
	case ModeDirect:
		need("AppID", c.AppID)
		need("MchID", c.MchID)
	case ModePartner:
		need("SpAppID", c.SpAppID)
		need("SpMchID", c.SpMchID)
		need("SubMchID", c.SubMchID)
	default:
		return fmt.Errorf("wechatpay: Mode must be %q or %q, got %q", ModeDirect, ModePartner, c.Mode)
	}
	need("MerchantSerialNo", c.MerchantSerialNo)
	need("PlatformPublicKeyID", c.PlatformPublicKeyID)
	if c.MerchantPrivateKey == nil {
		missing = append(missing, "MerchantPrivateKey")
	}
	if c.PlatformPublicKey == nil {
		missing = append(missing, "PlatformPublicKey")
	}
	if len(missing) > 0 {
		return fmt.Errorf("wechatpay: missing config %v", missing)
	}
	if len(c.APIv3Key) != 32 {
		return errors.New("wechatpay: APIv3Key must be 32 bytes")
	}
	return nil
}

func (c Config) partner() bool { return c.Mode == ModePartner }

// signingMchID is the mchid that signs requests (the service provider in partner mode).
func (c Config) signingMchID() string {
	if c.partner() {
		return c.SpMchID
	}
	return c.MchID
}

// Channel reports pay.WeChat.
func (p *Provider) Channel() pay.Channel { return pay.WeChat }

// providerErr wraps an SDK or transport error as pay.ErrProvider, keeping the
// original (e.g. *core.APIError) reachable with errors.As.
func providerErr(op string, err error) error {
	return fmt.Errorf("%w: wechatpay %s: %w", pay.ErrProvider, op, err)
}

// apiErrorCode returns the WeChat error code of err, if it is an API error.
func apiErrorCode(err error) (int, string) {
	var ae *core.APIError
	if errors.As(err, &ae) {
		return ae.StatusCode, ae.Code
	}
	return 0, ""
}
