// Package wechatoa sends template messages through a WeChat official account
// (公众号模板消息): POST /cgi-bin/message/template/send with an access token
// from POST /cgi-bin/stable_token. The token is cached in a TokenCache shared
// by every instance (DynamoDB in production) until shortly before it
// expires, and fetched again when WeChat says it is invalid or expired
// (40001, 40014, 42001).
//
// Plain net/http rather than github.com/silenceper/wechat/v2: its cache
// interface has no context and no error (a DynamoDB read that fails would
// look like a missing token), and only these two calls are needed.
package wechatoa

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Token is an access token and when it stops working.
type Token struct {
	Value     string
	ExpiresAt time.Time
}

// TokenCache keeps the account's token for every instance.
type TokenCache interface {
	GetToken(ctx context.Context, appID string) (Token, error)
	PutToken(ctx context.Context, appID string, t Token) error
}

// Error codes the sender acts on.
const (
	CodeInvalidToken   = 40001 // invalid credential / access_token
	CodeInvalidToken2  = 40014 // invalid access_token
	CodeExpiredToken   = 42001 // access_token expired
	CodeNotFollowing   = 43004 // the recipient does not follow the account
	CodeInvalidOpenID  = 40003
	CodeQuotaExhausted = 45009 // the day's API quota is used up
	CodeMinuteQuota    = 45011 // too many calls this minute
	CodeSystemBusy     = -1    // try again later
)

// Codes that refuse every message of the account until its setup is fixed.
var misconfigured = map[int]bool{
	40013: true, // invalid appid
	40125: true, // invalid appsecret
	40164: true, // the caller's IP is not on the account's whitelist
	40036: true, // invalid template_id size
	40037: true, // invalid template_id
	47003: true, // the template's fields do not match
	48001: true, // the account may not call this API
}

// APIError is an error WeChat answered with.
type APIError struct {
	Code int    `json:"errcode"`
	Msg  string `json:"errmsg"`
}

func (e *APIError) Error() string { return fmt.Sprintf("wechatoa: %d %s", e.Code, e.Msg) }

// Permanent reports whether sending the same message again cannot succeed
// until the recipient does something (follow the account, bind again).
func (e *APIError) Permanent() bool {
	return e.Code == CodeNotFollowing || e.Code == CodeInvalidOpenID
}

// Quota reports whether an API quota is used up (45009 for the day, 45011
// for the minute): the same message can go out later, after a longer wait.
func (e *APIError) Quota() bool { return e.Code == CodeQuotaExhausted || e.Code == CodeMinuteQuota }

// Misconfigured reports whether the account's setup refuses every message
// (app id or secret, IP whitelist, template, permission): no retry can
// succeed until an operator fixes it.
func (e *APIError) Misconfigured() bool { return misconfigured[e.Code] }

func tokenError(err error) bool {
	e, ok := err.(*APIError)
	return ok && (e.Code == CodeInvalidToken || e.Code == CodeInvalidToken2 || e.Code == CodeExpiredToken)
}

// Client sends template messages of one official account.
type Client struct {
	BaseURL string // https://api.weixin.qq.com
	AppID   string
	Secret  string
	Cache   TokenCache
	HTTP    *http.Client     // default: 10 s timeout
	Now     func() time.Time // default time.Now
}

// margin is how long before its expiry a cached token is no longer used.
const margin = 5 * time.Minute

func (c *Client) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Client) post(ctx context.Context, path string, q url.Values, body, out any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	u := strings.TrimRight(c.BaseURL, "/") + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	res, err := hc.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its URL holds the access token: never in an error or a log
		}
		return fmt.Errorf("wechatoa: %s: %w", path, err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("wechatoa: %s: HTTP %d", path, res.StatusCode)
	}
	return json.NewDecoder(res.Body).Decode(out)
}

// token returns a working token: the cached one, unless it is stale or is
// the one WeChat just refused (bad), then a new one from stable_token.
func (c *Client) token(ctx context.Context, bad string) (string, error) {
	cached, err := c.Cache.GetToken(ctx, c.AppID)
	if err != nil {
		return "", err
	}
	if cached.Value != "" && cached.Value != bad && c.now().Add(margin).Before(cached.ExpiresAt) {
		return cached.Value, nil
	}
	var out struct {
		APIError
		AccessToken string `json:"access_token"`
		ExpiresIn   int64  `json:"expires_in"`
	}
	req := map[string]any{"grant_type": "client_credential", "appid": c.AppID, "secret": c.Secret}
	if bad != "" {
		req["force_refresh"] = true // the stable token itself was refused
	}
	if err := c.post(ctx, "/cgi-bin/stable_token", nil, req, &out); err != nil {
		return "", err
	}
	if out.Code != 0 || out.AccessToken == "" {
		e := out.APIError
		return "", &e
	}
	t := Token{Value: out.AccessToken, ExpiresAt: c.now().Add(time.Duration(out.ExpiresIn) * time.Second)}
	if err := c.Cache.PutToken(ctx, c.AppID, t); err != nil {
		return "", err
	}
	return t.Value, nil
}

// Template is one template message.
type Template struct {
	ToOpenID   string
	TemplateID string
	URL        string            // opened when the message is tapped ("" none)
	Data       map[string]string // the template's fields
}

// Send sends m, fetching a new token once if WeChat refuses the cached one.
func (c *Client) Send(ctx context.Context, m Template) error {
	data := map[string]map[string]string{}
	for k, v := range m.Data {
		data[k] = map[string]string{"value": v}
	}
	body := map[string]any{"touser": m.ToOpenID, "template_id": m.TemplateID, "data": data}
	if m.URL != "" {
		body["url"] = m.URL
	}
	bad := ""
	for attempt := 0; ; attempt++ {
		tok, err := c.token(ctx, bad)
		if err != nil {
			return err
		}
		var out APIError
		if err := c.post(ctx, "/cgi-bin/message/template/send", url.Values{"access_token": {tok}}, body, &out); err != nil {
			return err
		}
		if out.Code == 0 {
			return nil
		}
		if tokenError(&out) && attempt == 0 {
			bad = tok
			continue
		}
		return &out
	}
}
