package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/estatepay/estatepay/infra/local/stacktest"
	"github.com/estatepay/estatepay/shared/accounts"
	"github.com/estatepay/estatepay/shared/auth"
	"github.com/estatepay/estatepay/shared/bills"
	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/payments"
	"github.com/estatepay/estatepay/shared/secrets"
	"github.com/estatepay/estatepay/shared/store"
	"github.com/estatepay/estatepay/shared/web"
)

// fakeAccounts is an in-memory Accounts with the behaviour the console
// relies on: one session per account (a new login squeezes the older one
// out), locked accounts, the SMS step, company-scoped staff and audit.
type fakeAccounts struct {
	mu       sync.Mutex
	staff    map[string]*fakeStaff // by id
	sessions map[string]*fakeSession
	setpw    map[string]string // token → staff id
	records  []recorded
	openIDs  []string // the OpenID of every Login, in order
	now      time.Time
}

type fakeStaff struct {
	StaffView
	password string
	session  string
	locked   bool
	sms      bool // the next login needs the SMS step (a new WeChat identity)
}

type fakeSession struct {
	staffID, csrf     string
	squeezed, expired bool
}

type recorded struct {
	by               Principal
	action, kind, id string
	before, after    string
}

func newFakeAccounts() *fakeAccounts {
	return &fakeAccounts{staff: map[string]*fakeStaff{}, sessions: map[string]*fakeSession{}, setpw: map[string]string{},
		now: time.Date(2026, 11, 29, 2, 0, 0, 0, time.UTC)}
}

func (f *fakeAccounts) add(id, company string, role Role, phone string) {
	f.staff[id] = &fakeStaff{StaffView: StaffView{ID: id, CompanyID: company, Name: "员工" + id, Phone: phone, Email: id + "@example.com",
		Status: "active", Role: role, CreatedAt: f.now}, password: "pw-" + id}
}

func randHex() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func (f *fakeAccounts) principal(s *fakeStaff, csrf string) Principal {
	return Principal{StaffID: s.ID, CompanyID: s.CompanyID, Name: s.Name, Phone: s.Phone, Role: s.Role, CSRF: csrf}
}

func (f *fakeAccounts) start(s *fakeStaff) LoginResult {
	if old := f.sessions[s.session]; old != nil {
		old.squeezed = true
	}
	sid, csrf := randHex(), randHex()
	f.sessions[sid] = &fakeSession{staffID: s.ID, csrf: csrf}
	s.session = sid
	return LoginResult{SessionID: sid, Principal: f.principal(s, csrf)}
}

func (f *fakeAccounts) Login(_ context.Context, in LoginRequest) (LoginResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.openIDs = append(f.openIDs, in.OpenID)
	for _, s := range f.staff {
		if s.Phone != in.Phone {
			continue
		}
		if s.locked {
			return LoginResult{}, ErrLocked
		}
		if s.password != in.Password || s.Status != "active" {
			return LoginResult{}, ErrBadCredentials
		}
		if s.sms {
			return LoginResult{SMSChallenge: "ch-" + s.ID}, nil
		}
		return f.start(s), nil
	}
	return LoginResult{}, ErrBadCredentials
}

func (f *fakeAccounts) VerifySMS(_ context.Context, challenge, code, ip string) (LoginResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.staff[strings.TrimPrefix(challenge, "ch-")]
	if s == nil || !s.sms || code != "123456" {
		return LoginResult{}, ErrBadCode
	}
	s.sms = false
	return f.start(s), nil
}

func (f *fakeAccounts) Authenticate(_ context.Context, sid string) (Principal, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ses := f.sessions[sid]
	switch {
	case ses == nil || ses.expired:
		return Principal{}, ErrSessionExpired
	case ses.squeezed:
		return Principal{}, ErrSqueezedOut
	}
	return f.principal(f.staff[ses.staffID], ses.csrf), nil
}

func (f *fakeAccounts) Logout(_ context.Context, sid string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.sessions, sid)
	return nil
}

func (f *fakeAccounts) visible(by Principal, s *fakeStaff) bool {
	return s != nil && (by.Role == RoleOperator || s.CompanyID == by.CompanyID)
}

func (f *fakeAccounts) CreateStaff(_ context.Context, by Principal, in NewStaff) (StaffView, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if by.Role != RoleOperator && in.CompanyID != by.CompanyID {
		return StaffView{}, ErrForbidden
	}
	id := "s-" + randHex()[:8]
	f.staff[id] = &fakeStaff{StaffView: StaffView{ID: id, CompanyID: in.CompanyID, Name: in.Name, Phone: in.Phone, Email: in.Email, Role: in.Role, Status: "pending", CreatedAt: f.now}}
	return f.staff[id].StaffView, nil
}

func (f *fakeAccounts) SetPassword(_ context.Context, token, pw string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := auth.CheckPasswordPolicy(pw); err != nil { // as the service: the policy first
		return &accounts.InvalidError{Msg: err.Error()}
	}
	id, ok := f.setpw[token]
	if !ok {
		return accounts.ErrBadToken
	}
	delete(f.setpw, token)
	f.staff[id].password, f.staff[id].Status = pw, "active"
	return nil
}

func (f *fakeAccounts) ResetPassword(_ context.Context, by Principal, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.visible(by, f.staff[id]) {
		return ErrNotFound
	}
	f.setpw["reset-"+id] = id
	return nil
}

func (f *fakeAccounts) DisableStaff(_ context.Context, by Principal, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.visible(by, f.staff[id]) {
		return ErrNotFound
	}
	f.staff[id].Status = "disabled"
	return nil
}

func (f *fakeAccounts) EnableStaff(_ context.Context, by Principal, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.visible(by, f.staff[id]) {
		return ErrNotFound
	}
	f.staff[id].Status = "active"
	return nil
}

func (f *fakeAccounts) ChangeRole(_ context.Context, by Principal, id string, r Role) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.visible(by, f.staff[id]) {
		return ErrNotFound
	}
	if r != RoleAdmin && r != RoleCashier && r != RoleManager && r != RoleRiskOfficer {
		return &accounts.InvalidError{Msg: "请选择有效的角色"}
	}
	f.staff[id].Role = r
	return nil
}

func (f *fakeAccounts) ListStaff(_ context.Context, by Principal) ([]StaffView, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []StaffView
	for _, s := range f.staff {
		if f.visible(by, s) {
			out = append(out, s.StaffView)
		}
	}
	return out, nil
}

func (f *fakeAccounts) Audit(_ context.Context, by Principal, cursor string, limit int) (AuditPage, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var pg AuditPage
	for i := len(f.records) - 1; i >= 0; i-- {
		r := f.records[i]
		if by.Role != RoleOperator && r.by.CompanyID != by.CompanyID {
			continue
		}
		pg.Entries = append(pg.Entries, AuditEntry{At: f.now, ActorID: r.by.StaffID, ActorRole: r.by.Role, Action: r.action,
			TargetKind: r.kind, TargetID: r.id, Before: json.RawMessage(r.before), After: json.RawMessage(r.after)})
	}
	return pg, nil
}

func (f *fakeAccounts) Record(_ context.Context, by Principal, action, kind, id string, before, after any) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, _ := json.Marshal(before)
	a, _ := json.Marshal(after)
	f.records = append(f.records, recorded{by: by, action: action, kind: kind, id: id, before: string(b), after: string(a)})
	return nil
}

func (f *fakeAccounts) recordCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.records)
}

// ---------------------------------------------------------------- fixture

// Two companies, each with an admin, a community with a code, a WeChat and
// an Alipay interface; company A also has one account per other role; and
// the operator.
type fixture struct {
	t        *testing.T
	h        *Handler
	acc      *fakeAccounts
	st       *store.Store
	keys     string // the secrets directory
	sessions map[string]session
}

type session struct{ id, csrf string }

const (
	coA, coB     = "co-a", "co-b"
	cmA, cmB     = "cm-a", "cm-b"
	codeA, codeB = "tok-aaaaaaaaaaaaaaaaaaaaaaaaa", "tok-bbbbbbbbbbbbbbbbbbbbbbbbb"
)

func newFixture(t *testing.T) *fixture {
	t.Helper()
	st := stacktest.NewStore(t)
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, co := range []string{coA, coB} {
		suffix := co[len(co)-1:]
		must(st.CreateInterface(ctx, store.Interface{ID: "if-wx-" + suffix, CompanyID: co, Channel: domain.WeChat, Status: domain.StatusApproved, Mode: "direct",
			AppID: "wx" + suffix, MchID: "190" + suffix, SecretRef: "file:///x", OAuthSecretRef: "file:///y"}))
		must(st.CreateInterface(ctx, store.Interface{ID: "if-ali-" + suffix, CompanyID: co, Channel: domain.Alipay, Status: domain.StatusApplying, Mode: "app", AppID: "2021" + suffix}))
		must(st.CreateCompany(ctx, store.Company{ID: co, Name: "物业" + strings.ToUpper(suffix)}))
		must(st.CreateCommunity(ctx, store.Community{ID: "cm-" + suffix, CompanyID: co, Name: "小区" + strings.ToUpper(suffix), WeChatIfaceID: "if-wx-" + suffix}))
		must(st.CreateCode(ctx, store.Code{Token: "tok-" + strings.Repeat(suffix, 25), CommunityID: "cm-" + suffix, Kind: "community", Status: "active"}))
	}
	acc := newFakeAccounts()
	acc.add("op", "", RoleOperator, "13800000000")
	acc.add("admin-a", coA, RoleAdmin, "13800000001")
	acc.add("cashier-a", coA, RoleCashier, "13800000002")
	acc.add("manager-a", coA, RoleManager, "13800000003")
	acc.add("risk-a", coA, RoleRiskOfficer, "13800000004")
	acc.add("admin-b", coB, RoleAdmin, "13800000011")
	keys := t.TempDir()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	h := &Handler{Store: st, Accounts: acc, Secrets: &secrets.Writer{Base: "file://" + keys}, PublicBaseURL: "https://pay.example.com",
		Records: recordViews{records: &Records{Directory: st, Orders: st.OrderRepo(), Log: log, Now: time.Now}},
		Cashier: &bills.Desk{Entries: st.CashierRepo(), Houses: st.HouseRepo(), Bills: st.BillRepo(), Payments: st.OrderRepo(),
			NewID: func() string { return newID("ce") }, Now: time.Now},
		MaxAmountFen: 5_000_000, Log: log}
	h.Refunds = &payments.Service{Orders: st.OrderRepo(), Billing: st.LedgerRepo(), Directory: st, Log: log, Now: time.Now}
	h.Notices = &Notices{Houses: st.HouseRepo(), Bills: st.BillRepo(), PublicBaseURL: h.PublicBaseURL, Now: func() time.Time { return noticeNow }}
	seedNotices(t, st)
	return &fixture{t: t, h: h, acc: acc, st: st, keys: keys, sessions: map[string]session{}}
}

// login starts a session for a staff id (through the fake, not a route).
func (f *fixture) login(id string) session {
	f.t.Helper()
	s := f.acc.staff[id]
	res, err := f.acc.Login(context.Background(), LoginRequest{Phone: s.Phone, Password: s.password})
	if err != nil {
		f.t.Fatal(err)
	}
	return session{res.SessionID, res.Principal.CSRF}
}

// rq is a request under construction.
type rq struct {
	method, path string
	query        map[string]string
	form         url.Values
	json         string
	cookies      []string
	headers      map[string]string
}

func (f *fixture) do(r rq) web.Response {
	f.t.Helper()
	path, rawQuery, _ := strings.Cut(r.path, "?")
	q := map[string]string{}
	if rawQuery != "" {
		v, _ := url.ParseQuery(rawQuery)
		for k := range v {
			q[k] = v.Get(k)
		}
	}
	for k, v := range r.query {
		q[k] = v
	}
	req := web.Request{RawPath: path, RawQueryString: rawQuery, QueryStringParameters: q, Cookies: r.cookies, Headers: map[string]string{}}
	req.RequestContext.HTTP.Method = r.method
	req.RequestContext.HTTP.Path = path
	req.RequestContext.HTTP.SourceIP = "203.0.113.9"
	for k, v := range r.headers {
		req.Headers[strings.ToLower(k)] = v
	}
	switch {
	case r.form != nil:
		req.Body = r.form.Encode()
		req.Headers["content-type"] = "application/x-www-form-urlencoded"
	case r.json != "":
		req.Body = r.json
		req.Headers["content-type"] = "application/json"
	}
	resp, err := f.h.Handle(context.Background(), req)
	if err != nil {
		f.t.Fatal(err)
	}
	return resp
}

// as sends r in session s, adding the CSRF token to a form (or the header
// for the API) of a state-changing request.
func (f *fixture) as(s session, r rq) web.Response {
	f.t.Helper()
	r.cookies = append(r.cookies, SessionCookie+"="+s.id)
	if r.method != http.MethodGet {
		if strings.HasPrefix(r.path, "/admin/api/") || strings.HasPrefix(r.path, mobileAPIPrefix) {
			if r.headers == nil {
				r.headers = map[string]string{}
			}
			r.headers["X-CSRF-Token"] = s.csrf
		} else {
			if r.form == nil {
				r.form = url.Values{}
			}
			r.form.Set("csrf", s.csrf)
		}
	}
	return f.do(r)
}

func get(path string) rq { return rq{method: http.MethodGet, path: path} }

func post(path string, kv ...string) rq {
	form := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		form.Set(kv[i], kv[i+1])
	}
	return rq{method: http.MethodPost, path: path, form: form}
}

func errorCode(t *testing.T, r web.Response) string {
	t.Helper()
	var e web.ErrorBody
	if err := json.Unmarshal([]byte(r.Body), &e); err != nil {
		t.Fatalf("not a JSON error: %d %s", r.StatusCode, r.Body)
	}
	return e.Error.Code
}

func cookieValue(r web.Response, name string) (string, string, bool) {
	for _, c := range r.Cookies {
		if v, ok := strings.CutPrefix(c, name+"="); ok {
			val, _, _ := strings.Cut(v, ";")
			return val, c, true
		}
	}
	return "", "", false
}
