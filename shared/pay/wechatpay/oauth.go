package wechatpay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// OAuth is the official-account web authorisation (snsapi_base) that yields
// the payer's openid.
type OAuth struct {
	AppID, Secret string
	OpenBaseURL   string // default https://open.weixin.qq.com
	APIBaseURL    string // default https://api.weixin.qq.com
	HTTPClient    *http.Client
}

// AuthorizeURL is where the browser goes to obtain a code for redirectURI.
func (o OAuth) AuthorizeURL(redirectURI, state string) string {
	base := o.OpenBaseURL
	if base == "" {
		base = "https://open.weixin.qq.com"
	}
	// WeChat requires this parameter order.
	return strings.TrimRight(base, "/") + "/connect/oauth2/authorize?appid=" + url.QueryEscape(o.AppID) +
		"&redirect_uri=" + url.QueryEscape(redirectURI) + "&response_type=code&scope=snsapi_base&state=" +
		url.QueryEscape(state) + "#wechat_redirect"
}

// OAuthError is an errcode/errmsg answer from api.weixin.qq.com.
type OAuthError struct {
	Code    int    `json:"errcode"`
	Message string `json:"errmsg"`
}

func (e *OAuthError) Error() string {
	return fmt.Sprintf("wechat oauth: errcode %d: %s", e.Code, e.Message)
}

// OpenID exchanges an authorisation code for the user's openid.
func (o OAuth) OpenID(ctx context.Context, code string) (string, error) {
	base := o.APIBaseURL
	if base == "" {
		base = "https://api.weixin.qq.com"
	}
	q := url.Values{}
	q.Set("appid", o.AppID)
	q.Set("secret", o.Secret)
	q.Set("code", code)
	q.Set("grant_type", "authorization_code")
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(base, "/")+"/sns/oauth2/access_token?"+q.Encode(), nil)
	if err != nil {
		return "", err
	}
	hc := o.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		// The URL carries the secret: never surface it in errors.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return "", fmt.Errorf("wechat oauth: access_token request: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", fmt.Errorf("wechat oauth: read response: %w", err)
	}
	var out struct {
		OAuthError
		OpenID string `json:"openid"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return "", fmt.Errorf("wechat oauth: HTTP %d: bad response: %w", resp.StatusCode, err)
	}
	if out.Code != 0 {
		return "", &OAuthError{Code: out.Code, Message: out.Message}
	}
	if out.OpenID == "" {
		return "", fmt.Errorf("wechat oauth: HTTP %d: no openid in response", resp.StatusCode)
	}
	return out.OpenID, nil
}
