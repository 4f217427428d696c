package auth

import (
	"strings"
	"testing"
	"time"
)

func TestHashAndVerify(t *testing.T) {
	h, err := HashPassword("correct horse 1")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q", h)
	}
	h2, _ := HashPassword("correct horse 1")
	if h == h2 {
		t.Fatal("two hashes of one password are equal: no salt")
	}
	if !VerifyPassword(h, "correct horse 1") || VerifyPassword(h, "correct horse 2") || VerifyPassword(h, "") {
		t.Fatal("verify")
	}
	for _, bad := range []string{"", "plain", h[:len(h)-5], strings.Replace(h, "argon2id", "argon2i", 1),
		strings.Replace(h, "m=19456", "m=4194304", 1), strings.Replace(h, "t=2", "t=1000", 1)} {
		if VerifyPassword(bad, "correct horse 1") {
			t.Errorf("malformed hash %q verified", bad)
		}
	}
	if _, err := HashPassword(strings.Repeat("a", MaxPasswordBytes+1)); err == nil {
		t.Error("an over-long password was hashed")
	}
	if NeedsRehash(h) {
		t.Error("a fresh hash needs a rehash")
	}
	old, _ := Params{Memory: 8 * 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}.Hash("pw12345678")
	if !NeedsRehash(old) || !VerifyPassword(old, "pw12345678") {
		t.Error("a hash with older parameters must verify and need a rehash")
	}
}

// The unknown-account path verifies against a hash with the very parameters
// real hashes have, so it costs the same.
func TestDummyHashCostsWhatARealOneCosts(t *testing.T) {
	d, ok := parse(dummyHash)
	if !ok || d.p != DefaultParams {
		t.Fatalf("dummy hash parameters %+v, default %+v: regenerate dummyHash with DefaultParams", d.p, DefaultParams)
	}
	h, _ := HashPassword("a real password 1")
	// Interleaved, fastest of 7 each: the machine's other load hits all alike.
	real, unknown, unset := time.Hour, time.Hour, time.Hour
	timed := func(best *time.Duration, f func()) {
		st := time.Now()
		f()
		*best = min(*best, time.Since(st))
	}
	for range 7 {
		timed(&real, func() { VerifyPassword(h, "wrong password 1") })
		timed(&unknown, func() { VerifyDummy("wrong password 1") })
		timed(&unset, func() { VerifyPassword("", "wrong password 1") })
	}
	for name, d := range map[string]time.Duration{"unknown account": unknown, "password not set": unset} {
		if d*3 < real || d > real*3 {
			t.Errorf("%s verification took %v, a real one %v", name, d, real)
		}
	}
}

func TestPasswordPolicy(t *testing.T) {
	for pw, ok := range map[string]bool{"abc12345": true, "密码很长很长的1": true, "abcdefgh": false, "12345678": false,
		"ab1": false, strings.Repeat("a1", 33): false} {
		if got := CheckPasswordPolicy(pw) == nil; got != ok {
			t.Errorf("policy(%q) = %v", pw, got)
		}
	}
}
