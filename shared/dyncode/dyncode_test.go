package dyncode

import (
	"errors"
	"strings"
	"testing"
	"time"
)

var key = []byte("0123456789abcdef0123456789abcdef")

func TestWindow(t *testing.T) {
	s := Signer{Key: key}
	m := time.Date(2026, 12, 6, 15, 4, 0, 0, time.UTC) // the start of minute m
	tok := s.TokenAt("abcdefghijkl", m.Add(59*time.Second))
	if !Valid(tok) {
		t.Fatalf("token %q has not the shape Valid expects", tok)
	}
	for _, c := range []struct {
		at   time.Time
		want error
	}{
		{m, nil},
		{m.Add(59 * time.Second), nil},
		{m.Add(time.Minute), nil},                     // m+1: the grace minute
		{m.Add(2*time.Minute - time.Nanosecond), nil}, // the last instant of m+1
		{m.Add(2 * time.Minute), ErrExpired},          // m+2: refused, exactly
		{m.Add(time.Hour), ErrExpired},
		{m.Add(-time.Nanosecond), ErrInvalid}, // minute m-1: a token from the future
	} {
		if err := s.Verify("abcdefghijkl", tok, c.at); !errors.Is(err, c.want) || (c.want == nil && err != nil) {
			t.Errorf("at %s: %v, want %v", c.at.Format(time.TimeOnly+".000"), err, c.want)
		}
	}
}

func TestTokensChangeEveryMinute(t *testing.T) {
	s := Signer{Key: key}
	at := time.Unix(1_700_000_000, 0)
	a, b := s.TokenAt("code1", at), s.TokenAt("code1", at.Add(time.Minute))
	if a == b {
		t.Fatal("the token did not change with the minute")
	}
	if s.TokenAt("code1", at) != a {
		t.Fatal("the token is not deterministic")
	}
	if s.TokenAt("code2", at) == a {
		t.Fatal("two codes share a token")
	}
	if (Signer{Key: []byte("another key, also thirty-two by")}).TokenAt("code1", at) == a {
		t.Fatal("two keys make one token")
	}
	if NextChange(at).Sub(at) <= 0 || NextChange(at).Sub(at) > time.Minute || NextChange(at).Unix()%60 != 0 {
		t.Fatalf("next change %s after %s", NextChange(at), at)
	}
}

func TestTampered(t *testing.T) {
	s := Signer{Key: key}
	now := time.Unix(1_700_000_000, 0)
	tok := s.TokenAt("code1", now)
	ms, sig, _ := strings.Cut(tok, ".")
	flip := func(str string, i int) string {
		b := []byte(str)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	next := s.Token("code1", Minute(now)+1)
	_, nextSig, _ := strings.Cut(next, ".")
	for name, bad := range map[string]string{
		"altered mac":         ms + "." + flip(sig, 3),
		"later minute":        next[:strings.Index(next, ".")] + "." + sig, // the minute moved forward, the old mac kept
		"other code":          s.TokenAt("code2", now),
		"mac of next minute":  ms + "." + nextSig,
		"empty":               "",
		"no mac":              ms,
		"no minute":           "." + sig,
		"padded minute":       "0" + tok,
		"short mac":           ms + "." + sig[:10],
		"other key":           Signer{Key: []byte("another key, also thirty-two by")}.TokenAt("code1", now),
		"standard base64 mac": ms + "." + strings.ReplaceAll(sig, "-", "+") + "=",
	} {
		if err := s.Verify("code1", bad, now); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s (%q): %v, want ErrInvalid", name, bad, err)
		}
	}
	if err := (Signer{}).Verify("code1", tok, now); !errors.Is(err, ErrInvalid) {
		t.Errorf("no key: %v", err)
	}
	if err := s.Verify("code1", tok, now); err != nil {
		t.Fatalf("the genuine token: %v", err)
	}
}

func TestFormWindow(t *testing.T) {
	s := Signer{Key: key}
	m := time.Date(2026, 12, 6, 15, 4, 0, 0, time.UTC)
	tok := s.TokenAt("code1", m)
	if err := s.VerifyForm("code1", tok, m.Add((FormMinutes+1)*time.Minute-time.Nanosecond)); err != nil {
		t.Fatalf("the form's last instant: %v", err)
	}
	if err := s.VerifyForm("code1", tok, m.Add((FormMinutes+1)*time.Minute)); !errors.Is(err, ErrExpired) {
		t.Fatalf("after the form's minutes: %v, want ErrExpired", err)
	}
	if err := s.VerifyForm("code2", tok, m); !errors.Is(err, ErrInvalid) {
		t.Fatalf("another code's token: %v", err)
	}
}
