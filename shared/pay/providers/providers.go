// Package providers builds provider adapters (shared/pay/wechatpay,
// shared/pay/alipay) for a payment interface record plus its secret, and caches
// them per process so a warm Lambda reuses its SDK clients.
package providers

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/pay"
	"github.com/estatepay/estatepay/shared/pay/alipay"
	"github.com/estatepay/estatepay/shared/pay/wechatpay"
	"github.com/estatepay/estatepay/shared/store"
	"github.com/estatepay/estatepay/shared/ttlcache"
)

// WeChatSecret is the JSON stored in a WeChat Pay interface's secret.
type WeChatSecret struct {
	MerchantPrivateKey string `json:"merchant_private_key"` // PEM
	APIv3Key           string `json:"apiv3_key"`
	PlatformPublicKey  string `json:"platform_public_key"` // PEM
}

// OAuthSecret is the JSON stored in a WeChat interface's OAuth secret
// (store.Interface.OAuthSecretRef): the AppSecret of the official account whose
// openid the payer needs. It lives apart from the merchant keys so that the
// landing function reads only this.
type OAuthSecret struct {
	OAuthAppSecret string `json:"oauth_app_secret"`
}

// AlipaySecret is the JSON stored in an Alipay interface's secret.
type AlipaySecret struct {
	AppPrivateKey   string `json:"app_private_key"`   // PEM
	AlipayPublicKey string `json:"alipay_public_key"` // PEM
	AppAuthToken    string `json:"app_auth_token,omitempty"`
}

// AlipayOAuthSecret is the JSON stored in an Alipay interface's OAuth secret
// (store.Interface.OAuthSecretRef, under estatepay/<stage>/oauth/…): the
// app's keys for the auth_base step of 我的缴费记录 (X4), so that the public
// landing function never reads the merchant secret it sits beside.
type AlipayOAuthSecret struct {
	AppPrivateKey   string `json:"app_private_key"`   // PEM
	AlipayPublicKey string `json:"alipay_public_key"` // PEM
}

// SecretSource loads secrets by reference (shared/secrets.Loader).
type SecretSource interface {
	Load(ctx context.Context, ref string) ([]byte, error)
}

// Registry builds and caches providers.
type Registry struct {
	Secrets          SecretSource
	HTTPClient       *http.Client
	WeChatPayBaseURL string
	WeChatOpenBase   string
	WeChatAPIBase    string
	AlipayGatewayURL string
	AlipayAuthorize  string        // Alipay's web authorisation page (default alipay.DefaultAuthorizeURL)
	TTL              time.Duration // rebuild after this (key rotation); default 10 minutes

	once  sync.Once
	cache *ttlcache.Cache[string, cached]
}

type cached struct {
	p     pay.Provider
	iface store.Interface // the record it was built from
}

// Provider returns the adapter for iface. A cached adapter is reused only for an
// identical interface record: any edit (seller id, app ids, key ids, secret
// reference) rebuilds it at once, so the checks it makes follow the record.
func (r *Registry) Provider(ctx context.Context, iface store.Interface) (pay.Provider, error) {
	r.once.Do(func() {
		ttl := r.TTL
		if ttl == 0 {
			ttl = 10 * time.Minute
		}
		r.cache = ttlcache.New[string, cached](ttl, 256, nil)
	})
	if c, ok := r.cache.Get(iface.ID); ok && c.iface == iface {
		return c.p, nil
	}
	p, err := r.build(ctx, iface)
	if err != nil {
		return nil, err
	}
	r.cache.Set(iface.ID, cached{p: p, iface: iface})
	return p, nil
}

func (r *Registry) build(ctx context.Context, iface store.Interface) (pay.Provider, error) {
	raw, err := r.Secrets.Load(ctx, iface.SecretRef)
	if err != nil {
		return nil, err
	}
	switch iface.Channel {
	case domain.WeChat:
		var s WeChatSecret
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, fmt.Errorf("providers: interface %s: secret is not WeChat JSON", iface.ID)
		}
		priv, err := parsePrivateKey(s.MerchantPrivateKey)
		if err != nil {
			return nil, fmt.Errorf("providers: interface %s: merchant key: %w", iface.ID, err)
		}
		pub, err := parsePublicKey(s.PlatformPublicKey)
		if err != nil {
			return nil, fmt.Errorf("providers: interface %s: platform key: %w", iface.ID, err)
		}
		return wechatpay.New(wechatpay.Config{
			Mode: iface.Mode, AppID: iface.AppID, MchID: iface.MchID,
			SpAppID: iface.SpAppID, SpMchID: iface.SpMchID, SubMchID: iface.SubMchID, SubAppID: iface.SubAppID,
			MerchantSerialNo: iface.MerchantSerialNo, MerchantPrivateKey: priv, APIv3Key: s.APIv3Key,
			PlatformPublicKeyID: iface.PlatformPublicKeyID, PlatformPublicKey: pub,
			BaseURL: r.WeChatPayBaseURL, HTTPClient: r.HTTPClient,
		})
	case domain.Alipay:
		var s AlipaySecret
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, fmt.Errorf("providers: interface %s: secret is not Alipay JSON", iface.ID)
		}
		// The record's mode and the secret must agree: an app_auth_token turns
		// the adapter into an ISV acting for another merchant.
		switch {
		case iface.Mode == "isv" && s.AppAuthToken == "":
			return nil, fmt.Errorf("providers: interface %s: ISV mode without an app_auth_token in its secret", iface.ID)
		case iface.Mode != "isv" && s.AppAuthToken != "":
			return nil, fmt.Errorf("providers: interface %s: mode %q but its secret holds an app_auth_token", iface.ID, iface.Mode)
		}
		var authApp string
		if iface.Mode == "isv" {
			authApp = iface.AuthAppID
		}
		return alipay.New(alipay.Config{
			AppID: iface.AppID, PrivateKey: s.AppPrivateKey, AlipayPublicKey: s.AlipayPublicKey,
			AppAuthToken: s.AppAuthToken, AuthAppID: authApp, SellerID: iface.SellerID,
			GatewayURL: r.AlipayGatewayURL, HTTPClient: r.HTTPClient,
		})
	}
	return nil, fmt.Errorf("providers: interface %s: unknown channel %q", iface.ID, iface.Channel)
}

// OAuth returns the WeChat OAuth client for the app whose openid iface's payers
// need. It reads only the interface's OAuth secret, never its merchant keys.
func (r *Registry) OAuth(ctx context.Context, iface store.Interface) (wechatpay.OAuth, error) {
	if iface.Channel != domain.WeChat || iface.OAuthSecretRef == "" {
		return wechatpay.OAuth{}, fmt.Errorf("providers: interface %s: no OAuth secret reference", iface.ID)
	}
	raw, err := r.Secrets.Load(ctx, iface.OAuthSecretRef)
	if err != nil {
		return wechatpay.OAuth{}, err
	}
	var s OAuthSecret
	if err := json.Unmarshal(raw, &s); err != nil || s.OAuthAppSecret == "" {
		return wechatpay.OAuth{}, fmt.Errorf("providers: interface %s: no OAuth app secret", iface.ID)
	}
	return wechatpay.OAuth{
		AppID: iface.OAuthAppID(), Secret: s.OAuthAppSecret,
		OpenBaseURL: r.WeChatOpenBase, APIBaseURL: r.WeChatAPIBase, HTTPClient: r.HTTPClient,
	}, nil
}

// AlipayOAuth returns the Alipay auth_base client of iface's app. It reads
// only the interface's OAuth secret, never its merchant keys; an interface
// without one cannot identify payers (我的缴费记录 says so).
func (r *Registry) AlipayOAuth(ctx context.Context, iface store.Interface) (*alipay.OAuth, error) {
	if iface.Channel != domain.Alipay || iface.OAuthSecretRef == "" {
		return nil, fmt.Errorf("providers: interface %s: no Alipay OAuth secret reference", iface.ID)
	}
	raw, err := r.Secrets.Load(ctx, iface.OAuthSecretRef)
	if err != nil {
		return nil, err
	}
	var s AlipayOAuthSecret
	if err := json.Unmarshal(raw, &s); err != nil || s.AppPrivateKey == "" || s.AlipayPublicKey == "" {
		return nil, fmt.Errorf("providers: interface %s: Alipay OAuth secret lacks the app keys", iface.ID)
	}
	return alipay.NewOAuth(alipay.OAuthConfig{AppID: iface.OAuthAppID(), PrivateKey: s.AppPrivateKey, AlipayPublicKey: s.AlipayPublicKey,
		GatewayURL: r.AlipayGatewayURL, AuthorizeURL: r.AlipayAuthorize, HTTPClient: r.HTTPClient})
}

func parsePrivateKey(p string) (*rsa.PrivateKey, error) {
	b, _ := pem.Decode([]byte(p))
	if b == nil {
		return nil, errors.New("not PEM")
	}
	if k, err := x509.ParsePKCS1PrivateKey(b.Bytes); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		return nil, err
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, errors.New("not an RSA key")
	}
	return rk, nil
}

func parsePublicKey(p string) (*rsa.PublicKey, error) {
	b, _ := pem.Decode([]byte(p))
	if b == nil {
		return nil, errors.New("not PEM")
	}
	if k, err := x509.ParsePKCS1PublicKey(b.Bytes); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKIXPublicKey(b.Bytes)
	if err != nil {
		return nil, err
	}
	rk, ok := k.(*rsa.PublicKey)
	if !ok {
		return nil, errors.New("not an RSA key")
	}
	return rk, nil
}
