package wechatoa

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

type memCache struct {
	mu sync.Mutex
	t  Token
}

func (m *memCache) GetToken(context.Context, string) (Token, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.t, nil
}
func (m *memCache) PutToken(_ context.Context, _ string, t Token) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.t = t
	return nil
}

// A transport failure names the call but never the URL (its access_token).
func TestErrorsNeverCarryTheToken(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/cgi-bin/stable_token" {
			_ = json.NewEncoder(w).Encode(map[string]any{"access_token": "SECRET-TOKEN", "expires_in": 7200})
			return
		}
		hj, _ := w.(http.Hijacker)
		conn, _, _ := hj.Hijack()
		conn.Close() // the connection drops mid-request
	}))
	defer srv.Close()
	c := &Client{BaseURL: srv.URL, AppID: "wx", Secret: "s", Cache: &memCache{}, Now: func() time.Time { return time.Unix(0, 0) }}
	err := c.Send(context.Background(), Template{ToOpenID: "o", TemplateID: "t"})
	if err == nil || strings.Contains(err.Error(), "SECRET-TOKEN") || !strings.Contains(err.Error(), "/cgi-bin/message/template/send") {
		t.Fatalf("error %v", err)
	}
}

// 42001 (expired) and 40014 (invalid) fetch a new token once and send again;
// a second refusal is returned, not looped on.
func TestRefusedTokenRefreshedOnce(t *testing.T) {
	var mu sync.Mutex
	var forced []bool
	sends := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if r.URL.Path == "/cgi-bin/stable_token" {
			var req map[string]any
			_ = json.NewDecoder(r.Body).Decode(&req)
			forced = append(forced, req["force_refresh"] == true)
			_ = json.NewEncoder(w).Encode(map[string]any{"access_token": "tok", "expires_in": 7200})
			return
		}
		sends++
		_ = json.NewEncoder(w).Encode(map[string]any{"errcode": map[bool]int{true: 42001, false: 40014}[sends == 1], "errmsg": "x"})
	}))
	defer srv.Close()
	c := &Client{BaseURL: srv.URL, AppID: "wx", Secret: "s", Cache: &memCache{}}
	err := c.Send(context.Background(), Template{ToOpenID: "o", TemplateID: "t"})
	var api *APIError
	if !asAPI(err, &api) || api.Code != CodeInvalidToken2 || sends != 2 || len(forced) != 2 || forced[0] || !forced[1] {
		t.Fatalf("err %v, sends %d, stable_token calls (force_refresh) %v", err, sends, forced)
	}
}

func asAPI(err error, out **APIError) bool {
	e, ok := err.(*APIError)
	*out = e
	return ok
}

// The classes the fan-out acts on: the recipient must act, an operator must
// act, the quota must refill; anything else (-1 busy, unknown) is retried.
func TestErrorClasses(t *testing.T) {
	for _, c := range []struct {
		code                        int
		permanent, misconfig, quota bool
	}{
		{CodeNotFollowing, true, false, false}, {CodeInvalidOpenID, true, false, false},
		{40013, false, true, false}, {40125, false, true, false}, {40164, false, true, false}, {40037, false, true, false}, {48001, false, true, false},
		{CodeQuotaExhausted, false, false, true}, {CodeMinuteQuota, false, false, true},
		{CodeSystemBusy, false, false, false}, {CodeExpiredToken, false, false, false}, {99999, false, false, false},
	} {
		e := &APIError{Code: c.code}
		if e.Permanent() != c.permanent || e.Misconfigured() != c.misconfig || e.Quota() != c.quota {
			t.Errorf("%d: permanent %v misconfigured %v quota %v", c.code, e.Permanent(), e.Misconfigured(), e.Quota())
		}
	}
}
