package wechat

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"time"
)

// payerCookie identifies the sandbox "WeChat user" of a browser.
const payerCookie = "wxsandbox_uid"

type oauthCode struct {
	appID, openID string
	expires       time.Time
	used          bool
}

// OpenID is the stable openid of sandbox user uid under appid (28 chars, "o" prefix).
func OpenID(appID, uid string) string {
	sum := sha256.Sum256([]byte(appID + "\x00" + uid))
	return "o" + base64.RawURLEncoding.EncodeToString(sum[:])[:27]
}

// handleAuthorize is open.weixin.qq.com/connect/oauth2/authorize: the user
// silently consents (snsapi_base) and is redirected back with a code.
func (s *Server) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	appID := q.Get("appid")
	if _, ok := s.apps[appID]; !ok {
		oauthPage(w, http.StatusBadRequest, "参数错误：appid无效（10003 redirect_uri域名与后台配置不一致 / 40013 invalid appid）")
		return
	}
	redirect, err := url.Parse(q.Get("redirect_uri"))
	if err != nil || (redirect.Scheme != "http" && redirect.Scheme != "https") || redirect.Host == "" {
		oauthPage(w, http.StatusBadRequest, "redirect_uri参数错误")
		return
	}
	if q.Get("response_type") != "code" {
		oauthPage(w, http.StatusBadRequest, "response_type参数错误，应为code")
		return
	}
	scope := q.Get("scope")
	if scope != "snsapi_base" && scope != "snsapi_userinfo" {
		oauthPage(w, http.StatusBadRequest, "scope参数错误（10005）")
		return
	}
	uid := ""
	if c, err := r.Cookie(payerCookie); err == nil && c.Value != "" {
		uid = c.Value
	} else {
		uid = randomHex(12)
		http.SetCookie(w, &http.Cookie{Name: payerCookie, Value: uid, Path: "/", HttpOnly: true,
			MaxAge: 10 * 365 * 24 * 3600, SameSite: http.SameSiteLaxMode})
	}
	openID := OpenID(appID, uid)
	code := randomHex(16)
	s.mu.Lock()
	s.codes[code] = &oauthCode{appID: appID, openID: openID, expires: time.Now().Add(5 * time.Minute)}
	s.openids[openID] = appID
	s.mu.Unlock()
	// Like WeChat, append code and state to the redirect URI's own query.
	add := url.Values{"code": {code}, "state": {q.Get("state")}}.Encode()
	if redirect.RawQuery != "" {
		redirect.RawQuery += "&" + add
	} else {
		redirect.RawQuery = add
	}
	redirect.Fragment = ""
	http.Redirect(w, r, redirect.String(), http.StatusFound)
}

func oauthPage(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_ = pageTemplate.ExecuteTemplate(w, "message", map[string]string{"Title": "微信授权", "Message": msg})
}

// handleAccessToken is api.weixin.qq.com/sns/oauth2/access_token.
func (s *Server) handleAccessToken(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	fail := func(code int, msg string) {
		writePlainJSON(w, map[string]any{"errcode": code, "errmsg": msg + ", rid: " + randomHex(6)})
	}
	app, ok := s.apps[q.Get("appid")]
	switch {
	case !ok:
		fail(40013, "invalid appid")
		return
	case q.Get("secret") != app.Secret:
		fail(40125, "invalid appsecret")
		return
	case q.Get("grant_type") != "authorization_code":
		fail(40002, "invalid grant_type")
		return
	}
	s.mu.Lock()
	c := s.codes[q.Get("code")]
	var used bool
	if c != nil {
		used = c.used
		c.used = true
	}
	s.mu.Unlock()
	switch {
	case c == nil || c.appID != app.AppID || time.Now().After(c.expires):
		fail(40029, "invalid code")
		return
	case used:
		fail(40163, "code been used")
		return
	}
	writePlainJSON(w, map[string]any{
		"access_token":  randomHex(32),
		"expires_in":    7200,
		"refresh_token": randomHex(32),
		"openid":        c.openID,
		"scope":         "snsapi_base",
	})
}

func writePlainJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; encoding=utf-8")
	_ = json.NewEncoder(w).Encode(v)
}
