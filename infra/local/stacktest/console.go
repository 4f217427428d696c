package stacktest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"testing"
	"time"

	"github.com/estatepay/estatepay/infra/local/stack"
)

// ConsoleClient is a console session of a demo account, signed in through
// POST /admin/api/session as a program does: an HTTP client whose cookie jar
// holds the ep_session cookie and which sends the session's CSRF token
// (X-CSRF-Token) with every state-changing request. It does not follow
// redirects (a page POST answers 303: the Location is the result).
type ConsoleClient struct {
	*http.Client
	Account stack.DemoAccount
	CSRF    string // the session's CSRF token (csrf_token of the login)
	Base    string // the gateway URL: paths are <Base>/admin/…
}

// DemoAccount returns the demo account of role in company ("" for the
// operator), failing the test when the stack has none.
func DemoAccount(t testing.TB, s *stack.Stack, role, companyID string) stack.DemoAccount {
	t.Helper()
	if s.Demo != nil {
		for _, a := range s.Demo.Accounts {
			if a.Role == role && a.CompanyID == companyID {
				return a
			}
		}
	}
	t.Fatalf("stacktest: no demo account with role %q in company %q", role, companyID)
	return stack.DemoAccount{}
}

// Console signs in as the demo account of role in company ("" for the
// operator) and returns the session's client. Signing in again as the same
// account squeezes the earlier session out.
func Console(t testing.TB, s *stack.Stack, role, companyID string) *ConsoleClient {
	t.Helper()
	return ConsoleAs(t, s, DemoAccount(t, s, role, companyID))
}

// ConsoleAs signs in as account a (its phone and password) and returns the
// session's client.
func ConsoleAs(t testing.TB, s *stack.Stack, a stack.DemoAccount) *ConsoleClient {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &ConsoleClient{Account: a, Base: s.URLs.Gateway}
	c.Client = &http.Client{
		Jar: jar, Timeout: 30 * time.Second,
		Transport:     csrfTransport{c: c},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	status, body := ConsoleLogin(t, s, c.Client, a.Phone, a.Password)
	var out struct {
		CSRF  string `json:"csrf_token"`
		Staff struct {
			CompanyID string `json:"company_id"`
			Role      string `json:"role"`
		} `json:"staff"`
	}
	if status != http.StatusOK || json.Unmarshal(body, &out) != nil || out.CSRF == "" {
		t.Fatalf("stacktest: console login as %s (%s): %d %s", a.Phone, a.Role, status, body)
	}
	if out.Staff.Role != a.Role || out.Staff.CompanyID != a.CompanyID {
		t.Fatalf("stacktest: console login as %s: signed in as %s of %q, want %s of %q", a.Phone, out.Staff.Role, out.Staff.CompanyID, a.Role, a.CompanyID)
	}
	c.CSRF = out.CSRF
	return c
}

// ConsoleLogin posts {"phone","password"} to POST /admin/api/session with
// client (its jar receives the session cookie) and returns the status and body.
func ConsoleLogin(t testing.TB, s *stack.Stack, client *http.Client, phone, password string) (int, []byte) {
	t.Helper()
	raw, _ := json.Marshal(map[string]string{"phone": phone, "password": password})
	req, err := http.NewRequest(http.MethodPost, s.URLs.Gateway+"/admin/api/session", bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("stacktest: console login: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, body
}

// Call sends method path (under Base) with an optional body of contentType
// and returns the status and body; it fails the test only when the request
// cannot be made.
func (c *ConsoleClient) Call(t testing.TB, method, path, contentType string, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, c.Base+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("console %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("console %s %s: read: %v", method, path, err)
	}
	return resp.StatusCode, out
}

// GetJSON GETs path (under Base), requires 200 and decodes the body into out.
func (c *ConsoleClient) GetJSON(t testing.TB, path string, out any) {
	t.Helper()
	status, body := c.Call(t, http.MethodGet, path, "", nil)
	if status != http.StatusOK {
		t.Fatalf("console GET %s: %d %s", path, status, body)
	}
	if err := json.Unmarshal(body, out); err != nil {
		t.Fatalf("console GET %s: %v: %.300s", path, err, body)
	}
}

// csrfTransport adds the session's CSRF token to state-changing requests.
type csrfTransport struct{ c *ConsoleClient }

func (tr csrfTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodGet && req.Method != http.MethodHead && tr.c.CSRF != "" && req.Header.Get("X-CSRF-Token") == "" {
		req = req.Clone(req.Context())
		req.Header.Set("X-CSRF-Token", tr.c.CSRF)
	}
	return http.DefaultTransport.RoundTrip(req)
}
