// Package dyncode is the dynamic anti-counterfeit code (F7): a code shown on
// a screen (a manager's phone, a counter display) whose URL carries a token
// that changes every minute, so a photo of the screen stops paying within two
// minutes.
//
// The token of a code (its directory token) for Unix minute m is
//
//	base36(m) "." base64url(HMAC-SHA256(key, "dyncode\x00" code "\x00" m)[:12])
//
// with the key from configuration (DYNCODE_KEY_REF, a secret). The minute
// travels in the token so a refusal can tell an expired token (a genuine one,
// too old) from a forged or altered one. A token is accepted in its own minute
// and the next one (one minute of grace); from the minute after that it is
// expired. Nothing here reads a clock: callers pass the time.
package dyncode

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
)

// Param is the query parameter of the landing URL that carries the token.
const Param = "d"

// macBytes is how much of the HMAC the token keeps: 96 bits.
const macBytes = 12

// MinKeyLen is the shortest key accepted (bytes).
const MinKeyLen = 32

// Errors of Verify.
var (
	// ErrExpired: a genuine token older than the grace minute.
	ErrExpired = errors.New("dyncode: token expired")
	// ErrInvalid: not a token of this code (altered, forged, or from the future).
	ErrInvalid = errors.New("dyncode: token invalid")
)

// Messages people read.
const (
	MsgExpired = "此动态码已过期，请重新扫描屏幕上的收款码"
	MsgInvalid = "此动态码无效，请扫描屏幕上的收款码"
	// MsgRequired: the code accepts only its dynamic form ("动态码 only").
	MsgRequired = "此收款码仅支持屏幕动态码付款，请扫描收款人屏幕上的收款码"
)

// Signer makes and checks the tokens of one key.
type Signer struct {
	Key []byte
}

// Minute is the Unix minute of t.
func Minute(t time.Time) int64 { return t.Unix() / 60 }

// NextChange is when the token of the minute of t is replaced.
func NextChange(t time.Time) time.Time { return time.Unix((Minute(t)+1)*60, 0).UTC() }

func (s Signer) mac(code string, minute int64) []byte {
	m := hmac.New(sha256.New, s.Key)
	m.Write([]byte("dyncode\x00" + code + "\x00" + strconv.FormatInt(minute, 10)))
	return m.Sum(nil)[:macBytes]
}

// TokenAt is the token of code for the minute of t.
func (s Signer) TokenAt(code string, t time.Time) string { return s.Token(code, Minute(t)) }

// Token is the token of code for Unix minute m.
func (s Signer) Token(code string, minute int64) string {
	return strconv.FormatInt(minute, 36) + "." + base64.RawURLEncoding.EncodeToString(s.mac(code, minute))
}

// FormMinutes is how long after its minute a token still creates an order
// (POST /api/orders): the payer scanned a live screen (the landing page
// checked the token within its grace) and may take a few minutes to type
// the amount and the fields; a photo of the screen is refused at the
// landing page long before.
const FormMinutes = 5

// Verify checks tok against code at now: nil for a token of the current or
// the previous minute, ErrExpired for an older genuine one, ErrInvalid for
// anything else.
func (s Signer) Verify(code, tok string, now time.Time) error {
	return s.VerifyWithin(code, tok, now, 1)
}

// VerifyForm is Verify for the order a scanned page submits: a token of the
// last FormMinutes minutes (and the current one) is accepted.
func (s Signer) VerifyForm(code, tok string, now time.Time) error {
	return s.VerifyWithin(code, tok, now, FormMinutes)
}

// VerifyWithin is Verify accepting tokens up to grace minutes old.
func (s Signer) VerifyWithin(code, tok string, now time.Time, grace int64) error {
	if len(s.Key) == 0 || len(tok) > 64 {
		return ErrInvalid
	}
	ms, sig, ok := strings.Cut(tok, ".")
	if !ok || ms == "" || len(ms) > 12 {
		return ErrInvalid
	}
	minute, err := strconv.ParseInt(ms, 36, 64)
	if err != nil || minute < 0 || strconv.FormatInt(minute, 36) != ms {
		return ErrInvalid
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, s.mac(code, minute)) {
		return ErrInvalid
	}
	cur := Minute(now)
	switch {
	case minute > cur:
		return ErrInvalid
	case cur-minute > grace:
		return ErrExpired
	}
	return nil
}

// Valid reports whether tok could be a token at all (its shape), for
// checking request fields before any key is at hand.
func Valid(tok string) bool {
	ms, sig, ok := strings.Cut(tok, ".")
	return ok && ms != "" && len(tok) <= 64 && len(sig) == 16 && isB64URL(ms) && isB64URL(sig)
}

func isB64URL(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// SecretSource reads a secret by its reference (shared/secrets.Loader).
type SecretSource interface {
	Load(ctx context.Context, ref string) ([]byte, error)
}

// LoadSigner reads the key from the secret ref (DYNCODE_KEY_REF): at least
// MinKeyLen bytes, surrounding white space ignored.
func LoadSigner(ctx context.Context, src SecretSource, ref string) (*Signer, error) {
	if ref == "" {
		return nil, errors.New("DYNCODE_KEY_REF is not set")
	}
	b, err := src.Load(ctx, ref)
	if err != nil {
		return nil, fmt.Errorf("dyncode key: %w", err)
	}
	b = bytes.TrimSpace(b)
	if len(b) < MinKeyLen {
		return nil, fmt.Errorf("dyncode key: %d bytes, want at least %d", len(b), MinKeyLen)
	}
	return &Signer{Key: b}, nil
}
