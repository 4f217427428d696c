package alipay

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// userCookie identifies the sandbox "Alipay user" of a browser: the buyer
// of the cashier's payments and the user of the authorize page, so that a
// browser pays and authorises as one person.
const userCookie = "alipaysandbox_uid"

// methodOAuthToken is alipay.system.oauth.token.
const methodOAuthToken = "alipay.system.oauth.token"

// UserID is the stable 2088… user_id of sandbox user uid.
func UserID(uid string) string {
	sum := sha256.Sum256([]byte("user\x00" + uid))
	return fmt.Sprintf("2088%012d", binary.BigEndian.Uint64(sum[:8])%1_000_000_000_000)
}

// OpenID is the stable open_id of sandbox user uid under appID (Alipay's
// open_id is per app, as WeChat's openid).
func OpenID(appID, uid string) string {
	sum := sha256.Sum256([]byte(appID + "\x00" + uid))
	return "0" + base64.RawURLEncoding.EncodeToString(sum[:])[:39]
}

// sandboxUser returns the browser's sandbox user, making one up (and
// setting its cookie) on the first visit.
func sandboxUser(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(userCookie); err == nil && c.Value != "" && len(c.Value) <= 64 {
		return c.Value
	}
	uid := randomHex(12)
	http.SetCookie(w, &http.Cookie{Name: userCookie, Value: uid, Path: "/", HttpOnly: true,
		MaxAge: 10 * 365 * 24 * 3600, SameSite: http.SameSiteLaxMode})
	return uid
}

type authCode struct {
	appID, uid string
	expires    time.Time
	used       bool
}

// handleAuthorize is openauth.alipay.com/oauth2/publicAppAuthorize.htm
// (https://opendocs.alipay.com/open/284/web): with scope auth_base the user
// is sent back silently to redirect_uri with auth_code, state, app_id,
// source and scope added to its query.
func (s *Server) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	appID := q.Get("app_id")
	known := false
	for _, a := range s.cfg.Apps {
		known = known || a.AppID == appID
	}
	if !known {
		renderPage(w, http.StatusBadRequest, pageData{Message: "授权失败：app_id 无效（isv.invalid-app-id）"})
		return
	}
	scope := q.Get("scope")
	if scope != "auth_base" && scope != "auth_user" {
		renderPage(w, http.StatusBadRequest, pageData{Message: "授权失败：scope 参数错误"})
		return
	}
	redirect, err := url.Parse(q.Get("redirect_uri"))
	if err != nil || (redirect.Scheme != "http" && redirect.Scheme != "https") || redirect.Host == "" {
		renderPage(w, http.StatusBadRequest, pageData{Message: "授权失败：redirect_uri 参数错误"})
		return
	}
	uid := sandboxUser(w, r)
	code := randomHex(16)
	s.mu.Lock()
	s.authCodes[code] = &authCode{appID: appID, uid: uid, expires: s.now().Add(5 * time.Minute)}
	s.mu.Unlock()
	add := url.Values{"auth_code": {code}, "state": {q.Get("state")}, "app_id": {appID}, "source": {"alipay_wallet"}, "scope": {scope}}.Encode()
	if redirect.RawQuery != "" {
		redirect.RawQuery += "&" + add
	} else {
		redirect.RawQuery = add
	}
	redirect.Fragment = ""
	http.Redirect(w, r, redirect.String(), http.StatusFound)
}

type oauthTokenResponse struct {
	UserID       string `json:"user_id,omitempty"`
	OpenID       string `json:"open_id,omitempty"`
	AccessToken  string `json:"access_token"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token"`
	ReExpiresIn  int64  `json:"re_expires_in"`
	AuthStart    string `json:"auth_start"`
}

// oauthToken is alipay.system.oauth.token with grant_type
// authorization_code: an auth_code issued to this app, once, within five
// minutes, names the user (user_id and open_id).
func (s *Server) oauthToken(c *call) any {
	if c.form.Get("grant_type") != "authorization_code" {
		return invalid("isv.grant-type-invalid", "不支持的grant_type")
	}
	code := c.form.Get("code")
	if code == "" {
		return missing("isv.missing-parameter", "缺少必选参数 code")
	}
	s.mu.Lock()
	ac := s.authCodes[code]
	var used bool
	if ac != nil {
		used, ac.used = ac.used, true
	}
	s.mu.Unlock()
	switch {
	case ac == nil || ac.appID != c.app.AppID || !c.now.Before(ac.expires):
		return invalid("isv.code-invalid", "授权码code无效")
	case used:
		return invalid("isv.code-used", "授权码code已使用")
	}
	return oauthTokenResponse{UserID: UserID(ac.uid), OpenID: OpenID(ac.appID, ac.uid), AccessToken: "authbse" + randomHex(16),
		ExpiresIn: 1296000, RefreshToken: "authbse" + randomHex(16), ReExpiresIn: 2592000, AuthStart: fmtTime(c.now)}
}
