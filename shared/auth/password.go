// Package auth holds the mechanics of staff authentication, free of storage:
// argon2id password hashes, random ids and their hashes, the session cookie,
// the CSRF check, the throttle policies (backoff and lockout) and SMS codes.
// shared/accounts applies them.
package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"unicode"

	"golang.org/x/crypto/argon2"
)

// Params are argon2id's cost parameters.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32 // passes
	Threads uint8
	SaltLen uint32 // bytes
	KeyLen  uint32 // bytes
}

// DefaultParams are the parameters new hashes use: m=19 MiB, t=2, p=1, a
// 16-byte random salt and a 32-byte key — OWASP's recommended minimum for
// argon2id (Password Storage Cheat Sheet), chosen over m=64 MiB/t=3/p=2 for
// the Lambda it runs on: at 256 MB a function gets 256/1769 of one vCPU, p=2
// buys nothing there, and x/crypto has no arm64 assembly for argon2 (the
// generic code runs). Measured on this repository's 2-core x86 machine with
// the generic code (-tags purego, what arm64 runs): 28–30 ms per hash on one
// core, so ≈ 190–200 ms on a 256 MB arm64 Lambda and ≈ 100 ms at 512 MB
// (m=64 MiB/t=3/p=2 measured 87–157 ms here on both cores: over a second at
// 256 MB). Hashes carry their parameters (PHC string), so raising them later
// keeps old hashes verifiable; NeedsRehash tells when to re-hash at login.
var DefaultParams = Params{Memory: 19 * 1024, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}

// MaxPasswordBytes bounds what is hashed.
const MaxPasswordBytes = 128

// dummyHash is a hash with DefaultParams of a random password nobody knows:
// a login for an unknown phone verifies against it, so that it costs what a
// known phone costs (no account enumeration by timing).
const dummyHash = "$argon2id$v=19$m=19456,t=2,p=1$4mqp1RLUTf3NZ6XRqh8kQA$/BK8YtCaVUKl3q+LP3mheBX8i9QfhSzvbTTmr8Gj3FM"

var b64 = base64.RawStdEncoding

// HashPassword hashes pw with DefaultParams into a PHC string:
// $argon2id$v=19$m=<KiB>,t=<passes>,p=<threads>$<salt>$<key> (unpadded base64).
func HashPassword(pw string) (string, error) { return DefaultParams.Hash(pw) }

// Hash hashes pw with p.
func (p Params) Hash(pw string) (string, error) {
	if len(pw) > MaxPasswordBytes {
		return "", errors.New("auth: password too long")
	}
	salt := make([]byte, p.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

type parsed struct {
	p         Params
	salt, key []byte
}

func parse(phc string) (parsed, bool) {
	var out parsed
	parts := strings.Split(phc, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != fmt.Sprintf("v=%d", argon2.Version) {
		return out, false
	}
	var m, t, p uint32
	if n, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || n != 3 {
		return out, false
	}
	// Refuse parameters no hash of ours has, so that a corrupted or planted
	// hash cannot make a login cost seconds or gigabytes.
	if m < 8*1024 || m > 256*1024 || t < 1 || t > 10 || p < 1 || p > 8 {
		return out, false
	}
	salt, err1 := b64.DecodeString(parts[4])
	key, err2 := b64.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(salt) < 8 || len(key) < 16 || len(key) > 64 {
		return out, false
	}
	out.p = Params{Memory: m, Time: t, Threads: uint8(p), SaltLen: uint32(len(salt)), KeyLen: uint32(len(key))}
	out.salt, out.key = salt, key
	return out, true
}

// VerifyPassword reports whether pw matches the PHC hash, comparing in
// constant time. A malformed or empty hash (an account whose password is
// not set yet) costs what a real verification costs and is false.
func VerifyPassword(phc, pw string) bool {
	h, ok := parse(phc)
	if !ok || len(pw) > MaxPasswordBytes {
		VerifyDummy(pw)
		return false
	}
	got := argon2.IDKey([]byte(pw), h.salt, h.p.Time, h.p.Memory, h.p.Threads, h.p.KeyLen)
	return subtle.ConstantTimeCompare(got, h.key) == 1
}

// VerifyDummy spends what verifying a password costs, against a hash no
// password is known for: the unknown-account path of a login.
func VerifyDummy(pw string) {
	h, _ := parse(dummyHash)
	if len(pw) > MaxPasswordBytes {
		pw = pw[:MaxPasswordBytes]
	}
	got := argon2.IDKey([]byte(pw), h.salt, h.p.Time, h.p.Memory, h.p.Threads, h.p.KeyLen)
	_ = subtle.ConstantTimeCompare(got, h.key)
}

// NeedsRehash reports whether a stored hash was made with other parameters
// than DefaultParams (re-hash it when the password is next verified).
func NeedsRehash(phc string) bool {
	h, ok := parse(phc)
	return !ok || h.p != DefaultParams
}

// ErrWeakPassword is a password the policy refuses; its text is for people.
var ErrWeakPassword = errors.New("密码须为 8–64 位，且同时包含字母和数字")

// CheckPasswordPolicy refuses passwords shorter than 8 or longer than 64
// characters, or without both a letter and a digit.
func CheckPasswordPolicy(pw string) error {
	n := len([]rune(pw))
	if n < 8 || n > 64 || len(pw) > MaxPasswordBytes {
		return ErrWeakPassword
	}
	var letter, digit bool
	for _, r := range pw {
		letter = letter || unicode.IsLetter(r)
		digit = digit || unicode.IsDigit(r)
	}
	if !letter || !digit {
		return ErrWeakPassword
	}
	return nil
}
