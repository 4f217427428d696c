package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strings"
	"time"
)

// Session lifetimes: a session ends 12 hours after login (absolute; also the
// item's TTL) or after 30 minutes without a request (idle); its last-seen
// time is written at most once a minute, so a busy console costs one write a
// minute, not one per request.
const (
	SessionAbsolute = 12 * time.Hour
	SessionIdle     = 30 * time.Minute
	SessionTouch    = time.Minute
	// PasswordLinkTTL is how long a set-password link works.
	PasswordLinkTTL = 24 * time.Hour
)

// NewID is an unguessable id: 32 random bytes, base64url without padding
// (43 characters). Session ids, CSRF tokens, password-link tokens and SMS
// challenge ids are such ids.
func NewID() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("auth: no randomness: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// HashID is what is stored of a secret id: SHA-256, hex. The ids carry 256
// random bits, so an unsalted fast hash is enough: whoever reads the table
// cannot use what it holds as a session or a link.
func HashID(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:])
}

// CookieName is the session cookie.
const CookieName = "ep_session"

// SessionCookie is the Set-Cookie value carrying session id id: HttpOnly,
// SameSite=Lax, Path=/admin, Secure when the console is served over https,
// and no longer than the session's absolute lifetime.
func SessionCookie(id string, secure bool) string {
	c := &http.Cookie{Name: CookieName, Value: id, Path: "/admin", MaxAge: int(SessionAbsolute / time.Second),
		HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode}
	return c.String()
}

// ClearSessionCookie is the Set-Cookie value that removes the session cookie.
func ClearSessionCookie(secure bool) string {
	c := &http.Cookie{Name: CookieName, Value: "", Path: "/admin", MaxAge: -1, HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode}
	return c.String()
}

// SessionFromCookies finds the session id in request cookies (API Gateway
// payload 2.0 `cookies`, or Cookie header values); "" if there is none.
func SessionFromCookies(cookies []string) string {
	for _, line := range cookies {
		cs, err := http.ParseCookie(line)
		if err != nil {
			continue
		}
		for _, c := range cs {
			if c.Name == CookieName && c.Value != "" {
				return c.Value
			}
		}
	}
	return ""
}

// CSRF: every state-changing request carries the session's CSRF token in
// the X-CSRF-Token header (scripts, fetch) or the csrf form field (pages).
const (
	CSRFHeader = "X-CSRF-Token"
	CSRFField  = "csrf"
)

// CheckCSRF reports whether got is the session's token (constant time).
func CheckCSRF(sessionToken, got string) bool {
	got = strings.TrimSpace(got)
	return sessionToken != "" && got != "" && subtle.ConstantTimeCompare([]byte(sessionToken), []byte(got)) == 1
}
