package auth

import (
	"strings"
	"testing"
)

func TestIDs(t *testing.T) {
	a, b := NewID(), NewID()
	if len(a) != 43 || a == b || strings.ContainsAny(a, "+/=") {
		t.Fatalf("ids %q %q", a, b)
	}
	if h := HashID(a); len(h) != 64 || h == HashID(b) || h != HashID(a) {
		t.Fatalf("hash %q", h)
	}
}

func TestSessionCookie(t *testing.T) {
	c := SessionCookie("abc", true)
	for _, want := range []string{"ep_session=abc", "Path=/admin", "HttpOnly", "Secure", "SameSite=Lax", "Max-Age=43200"} {
		if !strings.Contains(c, want) {
			t.Errorf("cookie %q lacks %q", c, want)
		}
	}
	if strings.Contains(SessionCookie("abc", false), "Secure") {
		t.Error("Secure on http")
	}
	if cl := ClearSessionCookie(true); !strings.Contains(cl, "Max-Age=0") || !strings.Contains(cl, "ep_session=;") {
		t.Errorf("clear cookie %q", cl)
	}
	if got := SessionFromCookies([]string{"a=1", "ep_payer=x; ep_session=sid42"}); got != "sid42" {
		t.Errorf("session from cookies = %q", got)
	}
	if got := SessionFromCookies([]string{"ep_sessionx=1", "garbage"}); got != "" {
		t.Errorf("session from other cookies = %q", got)
	}
}

func TestCSRF(t *testing.T) {
	if !CheckCSRF("tok", "tok") || !CheckCSRF("tok", " tok ") {
		t.Error("the right token is refused")
	}
	if CheckCSRF("tok", "tok2") || CheckCSRF("tok", "") || CheckCSRF("", "") {
		t.Error("a wrong or missing token passes")
	}
}
