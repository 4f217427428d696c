package web

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/estatepay/estatepay/shared/domain"
)

// PayerCookieName is the cookie that carries the payer identity from the
// landing function (which obtained it through OAuth: WeChat snsapi_base, or
// Alipay auth_base at 我的缴费记录) to the orders function and the history.
const PayerCookieName = "ep_payer"

// PayerCookieTTL is how long a payer identity is accepted after OAuth. Short:
// past it the landing page silently redoes the (snsapi_base) OAuth step.
const PayerCookieTTL = 30 * time.Minute

// payerCookiePaths are the paths the cookie is sent to: the landing pages (so a
// Back or a reload without a fresh OAuth code still has the identity) and order
// creation. It is set once per path.
var payerCookiePaths = []string{"/c/", "/n/", "/api/orders"}

// MinPayerKeyLen is the shortest accepted HMAC key (bytes).
const MinPayerKeyLen = 32

// Payer is a payer identity the server issued: the WeChat openid, or the
// Alipay open_id (else user_id), and the interface and app it was obtained for.
type Payer struct {
	Iface   string    // interface record id
	AppID   string    // the app (WeChat appid, Alipay app_id) the id belongs to
	OpenID  string    // the payer's id under AppID (WeChat openid; Alipay open_id or user_id)
	Expires time.Time // end of validity
}

// Errors of PayerCookies.Read.
var (
	ErrNoPayer      = errors.New("no payer cookie")
	ErrBadPayer     = errors.New("payer cookie invalid")
	ErrPayerExpired = errors.New("payer cookie expired")
)

// PayerCookies issues and verifies the payer cookie: the identity, HMAC-SHA256
// signed with a secret key; HttpOnly, SameSite=Lax, Secure on https
// deployments, scoped to the paths that need it, expiring after
// PayerCookieTTL. The value is signed, not encrypted: an openid is an app-scoped
// pseudonym, and the payer's own browser holds it anyway.
type PayerCookies struct {
	Key    []byte // >= MinPayerKeyLen bytes
	Secure bool   // add the Secure attribute (https deployments)
}

// isPayerID bounds every component: ids and openids are URL-safe tokens.
func isPayerID(s string) bool { return domain.IsURLSafe(s, 1, 64) }

const payerCookieVersion = "1"

func (c PayerCookies) mac(payload string) []byte {
	m := hmac.New(sha256.New, c.Key)
	m.Write([]byte(PayerCookieName + "\x00" + payload))
	return m.Sum(nil)
}

// Issue returns the Set-Cookie values for p, valid until now+PayerCookieTTL.
func (c PayerCookies) Issue(p Payer, now time.Time) ([]string, error) {
	if len(c.Key) < MinPayerKeyLen {
		return nil, errors.New("web: payer cookie key too short")
	}
	for _, v := range []string{p.Iface, p.AppID, p.OpenID} {
		if !isPayerID(v) {
			return nil, fmt.Errorf("web: payer identity component %q is not a URL-safe id", v)
		}
	}
	exp := now.Add(PayerCookieTTL)
	payload := strings.Join([]string{payerCookieVersion, strconv.FormatInt(exp.Unix(), 10), p.Iface, p.AppID, p.OpenID}, "|")
	value := base64.RawURLEncoding.EncodeToString([]byte(payload)) + "." + base64.RawURLEncoding.EncodeToString(c.mac(payload))
	attrs := fmt.Sprintf("; Max-Age=%d; HttpOnly; SameSite=Lax", int(PayerCookieTTL/time.Second))
	if c.Secure {
		attrs += "; Secure"
	}
	out := make([]string, 0, len(payerCookiePaths))
	for _, path := range payerCookiePaths {
		out = append(out, PayerCookieName+"="+value+"; Path="+path+attrs)
	}
	return out, nil
}

// Read verifies the request's payer cookie and returns the identity. A cookie
// whose signature, shape or expiry is wrong is an error; when several payer
// cookies arrive (one per path), any valid one is used.
func (c PayerCookies) Read(req Request, now time.Time) (Payer, error) {
	err := ErrNoPayer
	for _, raw := range req.Cookies {
		k, v, ok := strings.Cut(raw, "=")
		if !ok || strings.TrimSpace(k) != PayerCookieName {
			continue
		}
		p, e := c.parse(strings.TrimSpace(v), now)
		if e == nil {
			return p, nil
		}
		if err != ErrPayerExpired { // report "expired" over "invalid" when both occur
			err = e
		}
	}
	return Payer{}, err
}

func (c PayerCookies) parse(v string, now time.Time) (Payer, error) {
	if len(c.Key) < MinPayerKeyLen || len(v) > 512 {
		return Payer{}, ErrBadPayer
	}
	enc, sig, ok := strings.Cut(v, ".")
	if !ok {
		return Payer{}, ErrBadPayer
	}
	payload, err1 := base64.RawURLEncoding.DecodeString(enc)
	mac, err2 := base64.RawURLEncoding.DecodeString(sig)
	if err1 != nil || err2 != nil || !hmac.Equal(mac, c.mac(string(payload))) {
		return Payer{}, ErrBadPayer
	}
	parts := bytes.Split(payload, []byte("|"))
	if len(parts) != 5 || string(parts[0]) != payerCookieVersion {
		return Payer{}, ErrBadPayer
	}
	exp, err := strconv.ParseInt(string(parts[1]), 10, 64)
	if err != nil {
		return Payer{}, ErrBadPayer
	}
	p := Payer{Iface: string(parts[2]), AppID: string(parts[3]), OpenID: string(parts[4]), Expires: time.Unix(exp, 0)}
	for _, s := range []string{p.Iface, p.AppID, p.OpenID} {
		if !isPayerID(s) {
			return Payer{}, ErrBadPayer
		}
	}
	if !now.Before(p.Expires) {
		return Payer{}, ErrPayerExpired
	}
	return p, nil
}

// SecretSource loads a secret by reference (shared/secrets.Loader).
type SecretSource interface {
	Load(ctx context.Context, ref string) ([]byte, error)
}

// LoadPayerKey reads the payer cookie's HMAC key from the secret named by ref
// (PAYER_COOKIE_KEY_REF), once per cold start. Surrounding whitespace is
// ignored; a missing reference or a key shorter than MinPayerKeyLen bytes is
// an error, so a misconfigured function fails its cold start.
func LoadPayerKey(ctx context.Context, secrets SecretSource, ref string) ([]byte, error) {
	if ref == "" {
		return nil, errors.New("PAYER_COOKIE_KEY_REF is not set")
	}
	b, err := secrets.Load(ctx, ref)
	if err != nil {
		return nil, fmt.Errorf("payer cookie key: %w", err)
	}
	b = bytes.TrimSpace(b)
	if len(b) < MinPayerKeyLen {
		return nil, fmt.Errorf("payer cookie key: %d bytes, want at least %d", len(b), MinPayerKeyLen)
	}
	return b, nil
}
