package alipay

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	sdk "github.com/smartwalle/alipay/v3"
)

// DefaultAuthorizeURL is Alipay's web authorisation page (网页授权,
// https://opendocs.alipay.com/open/284/web).
const DefaultAuthorizeURL = "https://openauth.alipay.com/oauth2/publicAppAuthorize.htm"

// OAuthConfig configures the auth_base step of one Alipay app: who the payer
// is, no more (scope auth_base: silent, no consent page).
type OAuthConfig struct {
	AppID           string
	PrivateKey      string // the app's RSA2 private key (signs alipay.system.oauth.token)
	AlipayPublicKey string // verifies the answer
	GatewayURL      string // default DefaultGatewayURL
	AuthorizeURL    string // default DefaultAuthorizeURL
	HTTPClient      *http.Client
}

// OAuth identifies an Alipay user through auth_base.
type OAuth struct {
	cfg    OAuthConfig
	client *sdk.Client
}

// NewOAuth validates cfg and builds the SDK client.
func NewOAuth(cfg OAuthConfig) (*OAuth, error) {
	if cfg.AppID == "" {
		return nil, errors.New("alipay oauth: AppID is required")
	}
	if strings.TrimSpace(cfg.AlipayPublicKey) == "" {
		return nil, errors.New("alipay oauth: AlipayPublicKey is required")
	}
	if cfg.GatewayURL == "" {
		cfg.GatewayURL = DefaultGatewayURL
	}
	if cfg.AuthorizeURL == "" {
		cfg.AuthorizeURL = DefaultAuthorizeURL
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	client, err := sdk.New(cfg.AppID, strings.TrimSpace(cfg.PrivateKey), true,
		sdk.WithProductionGateway(cfg.GatewayURL), sdk.WithHTTPClient(hc), sdk.WithTimeLocation(cst))
	if err != nil {
		return nil, errors.New("alipay oauth: invalid app private key")
	}
	if err := client.LoadAliPayPublicKey(strings.TrimSpace(cfg.AlipayPublicKey)); err != nil {
		return nil, fmt.Errorf("alipay oauth: invalid Alipay public key: %w", err)
	}
	return &OAuth{cfg: cfg, client: client}, nil
}

// AppID is the app the identities belong to.
func (o *OAuth) AppID() string { return o.cfg.AppID }

// AuthorizeURL is where the browser goes for an auth_code: Alipay comes back
// to redirectURI with auth_code and state added to its query.
func (o *OAuth) AuthorizeURL(redirectURI, state string) string {
	q := url.Values{"app_id": {o.cfg.AppID}, "scope": {"auth_base"}, "redirect_uri": {redirectURI}, "state": {state}}
	return o.cfg.AuthorizeURL + "?" + q.Encode()
}

// UserID exchanges an auth_code (alipay.system.oauth.token,
// grant_type=authorization_code) for the user's id under this app: the
// open_id (apps in open_id mode), else the 2088… user_id — the same choice
// the payment notifications make (buyer_open_id, else buyer_id), so a
// payer is one key whichever way we learn who they are.
func (o *OAuth) UserID(ctx context.Context, code string) (string, error) {
	if code == "" {
		return "", errors.New("alipay oauth: no auth_code")
	}
	rsp, err := o.client.SystemOauthToken(ctx, sdk.SystemOauthToken{GrantType: "authorization_code", Code: code})
	if err != nil {
		var pe *sdk.Error
		if errors.As(err, &pe) && pe != nil {
			return "", fmt.Errorf("alipay oauth: %s %s (%s %s)", pe.Code, pe.Msg, pe.SubCode, pe.SubMsg)
		}
		return "", fmt.Errorf("alipay oauth: %w", err)
	}
	if rsp.Code != "" && !rsp.Code.IsSuccess() {
		return "", fmt.Errorf("alipay oauth: %s %s (%s %s)", rsp.Code, rsp.Msg, rsp.SubCode, rsp.SubMsg)
	}
	id := rsp.OpenId
	if id == "" {
		id = rsp.UserId
	}
	if id == "" || rsp.AccessToken == "" {
		return "", errors.New("alipay oauth: answer names no user")
	}
	return id, nil
}
