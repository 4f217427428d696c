package accounts_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/estatepay/estatepay/shared/accounts"
	"github.com/estatepay/estatepay/shared/domain/staff"
	"github.com/estatepay/estatepay/shared/notify"
	"github.com/estatepay/estatepay/shared/store/memory"
)

var ctx = context.Background()

type clock struct{ t time.Time }

func (c *clock) now() time.Time           { return c.t }
func (c *clock) add(d time.Duration)      { c.t = c.t.Add(d) }
func newClock() *clock                    { return &clock{time.Date(2026, 11, 29, 1, 0, 0, 0, time.UTC)} }
func (c *clock) set(t time.Time) *clock   { c.t = t; return c }
func (c *clock) since(t time.Time) string { return c.t.Sub(t).String() }

type outbox struct {
	mu     sync.Mutex
	sms    []notify.SMSMessage
	emails []notify.EmailMessage
	fail   bool
}

func (o *outbox) SendSMS(_ context.Context, m notify.SMSMessage) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.fail {
		return errors.New("provider down")
	}
	o.sms = append(o.sms, m)
	return nil
}

func (o *outbox) SendEmail(_ context.Context, m notify.EmailMessage) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.fail {
		return errors.New("provider down")
	}
	o.emails = append(o.emails, m)
	return nil
}

var tokenRE = regexp.MustCompile(`https://console\.example\.com/admin/set-password\?token=([A-Za-z0-9_%-]+)`)

// lastToken is the token of the last set-password link e-mailed to addr.
func (o *outbox) lastToken(t *testing.T, addr string) string {
	t.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	for i := len(o.emails) - 1; i >= 0; i-- {
		if e := o.emails[i]; e.To == addr {
			m := tokenRE.FindStringSubmatch(e.Text)
			if m == nil || !strings.Contains(e.HTML, "set-password?token=") {
				t.Fatalf("e-mail without a link: %+v", e)
			}
			tok, _ := url.QueryUnescape(m[1])
			return tok
		}
	}
	t.Fatalf("no e-mail to %s", addr)
	return ""
}

func (o *outbox) lastCode(t *testing.T, phone string) string {
	t.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	for i := len(o.sms) - 1; i >= 0; i-- {
		if m := o.sms[i]; m.Phone == phone {
			if m.TemplateID != "tpl-login" || len(m.Params) != 1 {
				t.Fatalf("sms %+v", m)
			}
			return m.Params[0]
		}
	}
	t.Fatalf("no sms to %s", phone)
	return ""
}

type companies map[string]string

func (c companies) CompanyName(_ context.Context, id string) (string, error) {
	if n, ok := c[id]; ok {
		return n, nil
	}
	return "", accounts.ErrNotFound
}

type env struct {
	svc  *accounts.Service
	repo *memory.Access
	out  *outbox
	clk  *clock
	op   accounts.Principal
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{repo: memory.NewAccess(), out: &outbox{}, clk: newClock()}
	e.svc = &accounts.Service{Repo: e.repo, SMS: e.out, Email: e.out, Now: e.clk.now, Log: slog.New(slog.DiscardHandler),
		Companies: companies{"coA": "甲物业", "coB": "乙物业"}, PublicBaseURL: "https://console.example.com", SMSTemplateID: "tpl-login"}
	v, err := e.svc.BootstrapOperator(ctx, accounts.NewStaff{Name: "运营", Phone: "13000000000", Email: "op@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	e.activate(t, "op@example.com", "operator-pass-1")
	e.op = accounts.Principal{StaffID: v.ID, Name: "运营", Role: staff.Operator}
	return e
}

func (e *env) activate(t *testing.T, email, password string) {
	t.Helper()
	if err := e.svc.SetPassword(ctx, e.out.lastToken(t, email), password); err != nil {
		t.Fatalf("set password of %s: %v", email, err)
	}
}

// account creates and activates an account; it returns its view.
func (e *env) account(t *testing.T, by accounts.Principal, company string, role staff.Role, phone string) accounts.StaffView {
	t.Helper()
	email := phone + "@example.com"
	v, err := e.svc.CreateStaff(ctx, by, accounts.NewStaff{CompanyID: company, Name: string(role) + phone[7:], Phone: phone, Email: email, Role: role})
	if err != nil {
		t.Fatalf("create %s: %v", role, err)
	}
	e.activate(t, email, "password-"+phone)
	return v
}

func (e *env) login(t *testing.T, phone string) accounts.LoginResult {
	t.Helper()
	res, err := e.svc.Login(ctx, accounts.LoginRequest{Phone: phone, Password: "password-" + phone, IP: "198.51.100.1"})
	if err != nil || res.SessionID == "" {
		t.Fatalf("login %s: %+v %v", phone, res, err)
	}
	return res
}

func (e *env) adminOf(t *testing.T, company, phone string) accounts.Principal {
	t.Helper()
	e.account(t, e.op, company, staff.Admin, phone)
	return e.login(t, phone).Principal
}

func auditActions(t *testing.T, e *env, by accounts.Principal, company string) []string {
	t.Helper()
	p, err := e.svc.AuditOf(ctx, by, company, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, x := range p.Entries {
		out = append(out, x.Action)
	}
	return out
}

func count(list []string, s string) int {
	n := 0
	for _, x := range list {
		if x == s {
			n++
		}
	}
	return n
}

func TestRegistrationLinkSetsThePasswordOnce(t *testing.T) {
	e := newEnv(t)
	admin := e.adminOf(t, "coA", "13100000001")
	v, err := e.svc.CreateStaff(ctx, admin, accounts.NewStaff{CompanyID: "coA", Name: "王五", Phone: "13100000002", Email: "w@example.com", Role: staff.Manager})
	if err != nil || v.Status != "pending" || v.Role != staff.Manager || v.CompanyID != "coA" {
		t.Fatalf("create = %+v %v", v, err)
	}
	mail := e.out.emails[len(e.out.emails)-1]
	if mail.To != "w@example.com" || !strings.Contains(mail.Text, "甲物业") || !strings.Contains(mail.Text, "13100000002") ||
		!strings.Contains(mail.Text, "业务经理") || strings.Contains(strings.ToLower(mail.Text), "password-") {
		t.Fatalf("registration e-mail %+v", mail)
	}
	tok := e.out.lastToken(t, "w@example.com")
	// Pending: no login, whatever the password.
	if _, err := e.svc.Login(ctx, accounts.LoginRequest{Phone: "13100000002", Password: "anything1", IP: "1"}); !errors.Is(err, accounts.ErrBadCredentials) {
		t.Fatalf("pending login: %v", err)
	}
	var inv *accounts.InvalidError
	if err := e.svc.SetPassword(ctx, tok, "short"); !errors.As(err, &inv) {
		t.Fatalf("weak password: %v", err)
	}
	if err := e.svc.SetPassword(ctx, tok, "good-pass-1"); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.SetPassword(ctx, tok, "other-pass-2"); !errors.Is(err, accounts.ErrBadToken) {
		t.Fatalf("link used twice: %v", err)
	}
	res, err := e.svc.Login(ctx, accounts.LoginRequest{Phone: "13100000002", Password: "good-pass-1", IP: "1"})
	if err != nil || res.Principal.Role != staff.Manager || res.Principal.CompanyID != "coA" || res.Principal.Name != "王五" {
		t.Fatalf("login after set: %+v %v", res, err)
	}
	if _, err := e.svc.Login(ctx, accounts.LoginRequest{Phone: "13100000002", Password: "other-pass-2", IP: "1"}); !errors.Is(err, accounts.ErrBadCredentials) {
		t.Fatalf("second link use changed the password: %v", err)
	}
	// A reset link replaces the previous one, ends the session when used, and expires after 24 h.
	if err := e.svc.ResetPassword(ctx, admin, v.ID); err != nil {
		t.Fatal(err)
	}
	first := e.out.lastToken(t, "w@example.com")
	if err := e.svc.ResetPassword(ctx, admin, v.ID); err != nil {
		t.Fatal(err)
	}
	second := e.out.lastToken(t, "w@example.com")
	if err := e.svc.SetPassword(ctx, first, "new-pass-3"); !errors.Is(err, accounts.ErrBadToken) {
		t.Fatalf("replaced link: %v", err)
	}
	e.clk.add(24*time.Hour + time.Second)
	if err := e.svc.SetPassword(ctx, second, "new-pass-3"); !errors.Is(err, accounts.ErrBadToken) {
		t.Fatalf("expired link: %v", err)
	}
	_ = e.svc.ResetPassword(ctx, admin, v.ID)
	if err := e.svc.SetPassword(ctx, e.out.lastToken(t, "w@example.com"), "new-pass-3"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Authenticate(ctx, res.SessionID); !errors.Is(err, accounts.ErrSessionExpired) {
		t.Fatalf("session after a password reset: %v", err)
	}
	if err := e.svc.SetPassword(ctx, "", "new-pass-3"); !errors.Is(err, accounts.ErrBadToken) {
		t.Fatalf("empty token: %v", err)
	}
	acts := auditActions(t, e, admin, "coA")
	if count(acts, "staff.create") != 2 || count(acts, "staff.password_set") < 3 || count(acts, "staff.reset_password") != 3 {
		t.Fatalf("audit %v", acts)
	}
}

func TestEmailFailureLeavesTheAccountToResend(t *testing.T) {
	e := newEnv(t)
	admin := e.adminOf(t, "coA", "13100000001")
	e.out.fail = true
	v, err := e.svc.CreateStaff(ctx, admin, accounts.NewStaff{CompanyID: "coA", Name: "赵六", Phone: "13100000003", Email: "z@example.com", Role: staff.Cashier})
	if !errors.Is(err, accounts.ErrEmailNotSent) || v.ID == "" {
		t.Fatalf("create with e-mail down = %+v %v", v, err)
	}
	e.out.fail = false
	if err := e.svc.ResetPassword(ctx, admin, v.ID); err != nil {
		t.Fatal(err)
	}
	e.activate(t, "z@example.com", "password-13100000003")
	e.login(t, "13100000003")
	if _, err := e.svc.CreateStaff(ctx, admin, accounts.NewStaff{CompanyID: "coA", Name: "重复", Phone: "13100000003", Email: "d@example.com", Role: staff.Cashier}); !errors.Is(err, accounts.ErrPhoneTaken) {
		t.Fatalf("phone reused: %v", err)
	}
}

func TestSqueezeOut(t *testing.T) {
	e := newEnv(t)
	admin := e.adminOf(t, "coA", "13100000001")
	e.account(t, admin, "coA", staff.Manager, "13100000004")
	first := e.login(t, "13100000004")
	p, err := e.svc.Authenticate(ctx, first.SessionID)
	if err != nil || p.Role != staff.Manager || p.CSRF == "" || p.CSRF != first.Principal.CSRF || p.Phone != "13100000004" {
		t.Fatalf("authenticate = %+v %v", p, err)
	}
	e.clk.add(time.Minute)
	second := e.login(t, "13100000004")
	if second.SessionID == first.SessionID || second.Principal.CSRF == first.Principal.CSRF {
		t.Fatal("a new login reused the session or its CSRF token")
	}
	for range 3 {
		if _, err := e.svc.Authenticate(ctx, first.SessionID); !errors.Is(err, accounts.ErrSqueezedOut) {
			t.Fatalf("older session: %v", err)
		}
	}
	if _, code, msg := accounts.Describe(accounts.ErrSqueezedOut); code != "squeezed_out" || msg != "您的账号已在其他地方登录" {
		t.Fatalf("describe: %s %s", code, msg)
	}
	if _, err := e.svc.Authenticate(ctx, second.SessionID); err != nil {
		t.Fatalf("newer session: %v", err)
	}
	if n := count(auditActions(t, e, admin, "coA"), "session.squeezed_out"); n != 1 {
		t.Fatalf("%d squeeze-out audit entries, want 1", n)
	}
	// Logging out the squeezed session leaves the current one alone.
	if err := e.svc.Logout(ctx, first.SessionID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Authenticate(ctx, second.SessionID); err != nil {
		t.Fatalf("current session after the old one logged out: %v", err)
	}
	if err := e.svc.Logout(ctx, second.SessionID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Authenticate(ctx, second.SessionID); !errors.Is(err, accounts.ErrSessionExpired) {
		t.Fatalf("logged-out session: %v", err)
	}
	if err := e.svc.Logout(ctx, second.SessionID); err != nil {
		t.Fatalf("logout twice: %v", err)
	}
	// After a logout, the next login squeezes nobody out.
	third := e.login(t, "13100000004")
	if _, err := e.svc.Authenticate(ctx, third.SessionID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Authenticate(ctx, "made-up"); !errors.Is(err, accounts.ErrSessionExpired) {
		t.Fatalf("unknown session: %v", err)
	}
}

func TestSessionExpiry(t *testing.T) {
	e := newEnv(t)
	admin := e.adminOf(t, "coA", "13100000001")
	e.account(t, admin, "coA", staff.Cashier, "13100000005")
	res := e.login(t, "13100000005")
	start := e.clk.t
	// Idle: 30 minutes without a request. A request 30 s in does not move the
	// idle clock (it is written at most once a minute); one at 1 min does.
	e.clk.add(30 * time.Second)
	if _, err := e.svc.Authenticate(ctx, res.SessionID); err != nil {
		t.Fatal(err)
	}
	e.clk.set(start.Add(30*time.Minute + 10*time.Second))
	if _, err := e.svc.Authenticate(ctx, res.SessionID); !errors.Is(err, accounts.ErrSessionExpired) {
		t.Fatalf("30 min after the last recorded request (%s): %v", e.clk.since(start), err)
	}
	res = e.login(t, "13100000005")
	start = e.clk.t
	e.clk.add(time.Minute)
	_, _ = e.svc.Authenticate(ctx, res.SessionID)
	e.clk.add(29*time.Minute + 50*time.Second)
	if _, err := e.svc.Authenticate(ctx, res.SessionID); err != nil {
		t.Fatalf("idle clock not pushed on: %v", err)
	}
	// Absolute: 12 hours after login, however busy.
	for e.clk.t.Before(start.Add(12*time.Hour - 20*time.Minute)) {
		e.clk.add(20 * time.Minute)
		if _, err := e.svc.Authenticate(ctx, res.SessionID); err != nil {
			t.Fatalf("at %s: %v", e.clk.since(start), err)
		}
	}
	e.clk.set(start.Add(12 * time.Hour))
	if _, err := e.svc.Authenticate(ctx, res.SessionID); !errors.Is(err, accounts.ErrSessionExpired) {
		t.Fatalf("12 h after login: %v", err)
	}
}

func TestLockoutPerAccount(t *testing.T) {
	e := newEnv(t)
	admin := e.adminOf(t, "coA", "13100000001")
	e.account(t, admin, "coA", staff.Cashier, "13100000006")
	try := func(phone, pw, ip string) error {
		_, err := e.svc.Login(ctx, accounts.LoginRequest{Phone: phone, Password: pw, IP: ip})
		return err
	}
	for _, phone := range []string{"13100000006", "13199999999"} { // known and unknown: the same
		start := e.clk.t
		for i := 1; i <= 4; i++ {
			if err := try(phone, "wrong-pass-1", "203.0.113.9"); !errors.Is(err, accounts.ErrBadCredentials) {
				t.Fatalf("%s failure %d: %v", phone, i, err)
			}
		}
		err := try(phone, "wrong-pass-1", "203.0.113.9")
		status, code, msg := accounts.Describe(err)
		if !errors.Is(err, accounts.ErrLocked) || status != 429 || code != "locked" || msg != "登录失败次数过多，请 15 分钟后再试" {
			t.Fatalf("%s 5th failure: %v (%d %s %s)", phone, err, status, code, msg)
		}
		if err := try(phone, "password-"+phone, "203.0.113.10"); !errors.Is(err, accounts.ErrLocked) {
			t.Fatalf("%s right password while locked: %v", phone, err)
		}
		e.clk.set(start.Add(15*time.Minute + time.Second))
	}
	e.login(t, "13100000006")
	// The success cleared the count: 4 more failures do not lock.
	for i := 0; i < 4; i++ {
		_ = try("13100000006", "wrong-pass-1", "203.0.113.11")
	}
	e.login(t, "13100000006")
	// A second lock lasts twice as long.
	for i := 0; i < 5; i++ {
		_ = try("13100000006", "wrong-pass-1", "203.0.113.12")
	}
	for i := 0; i < 5; i++ {
		_ = try("13100000006", "wrong-pass-1", "203.0.113.12")
	}
	e.clk.add(20 * time.Minute)
	for i := 0; i < 5; i++ {
		_ = try("13100000006", "wrong-pass-1", "203.0.113.13")
	}
	if _, _, msg := accounts.Describe(try("13100000006", "password-13100000006", "203.0.113.14")); msg != "登录失败次数过多，请 30 分钟后再试" {
		t.Fatalf("second lock: %s", msg)
	}
}

func TestLockoutPerIP(t *testing.T) {
	e := newEnv(t)
	admin := e.adminOf(t, "coA", "13100000001")
	e.account(t, admin, "coA", staff.Cashier, "13100000007")
	for i := 0; i < 20; i++ { // 20 phones, 1 failure each: no account locks, the IP does
		phone := "1350000" + string(rune('0'+i/10)) + string(rune('0'+i%10)) + "00"
		_, err := e.svc.Login(ctx, accounts.LoginRequest{Phone: phone, Password: "x", IP: "192.0.2.66"})
		if (i < 19) != errors.Is(err, accounts.ErrBadCredentials) {
			t.Fatalf("failure %d: %v", i, err)
		}
		e.clk.add(10 * time.Second)
	}
	if _, err := e.svc.Login(ctx, accounts.LoginRequest{Phone: "13100000007", Password: "password-13100000007", IP: "192.0.2.66"}); !errors.Is(err, accounts.ErrLocked) {
		t.Fatalf("locked IP: %v", err)
	}
	if _, err := e.svc.Login(ctx, accounts.LoginRequest{Phone: "13100000007", Password: "password-13100000007", IP: "192.0.2.67"}); err != nil {
		t.Fatalf("another IP: %v", err)
	}
	e.clk.add(10 * time.Minute)
	if _, err := e.svc.Login(ctx, accounts.LoginRequest{Phone: "13100000007", Password: "password-13100000007", IP: "192.0.2.66"}); err != nil {
		t.Fatalf("after the IP lock: %v", err)
	}
}

// Unknown phones, wrong passwords, pending and disabled accounts answer alike.
func TestNoAccountEnumeration(t *testing.T) {
	e := newEnv(t)
	admin := e.adminOf(t, "coA", "13100000001")
	e.account(t, admin, "coA", staff.Cashier, "13100000008")
	dis := e.account(t, admin, "coA", staff.Cashier, "13100000009")
	if err := e.svc.DisableStaff(ctx, admin, dis.ID); err != nil {
		t.Fatal(err)
	}
	_, _ = e.svc.CreateStaff(ctx, admin, accounts.NewStaff{CompanyID: "coA", Name: "未激活", Phone: "13100000010", Email: "p@example.com", Role: staff.Cashier})
	for name, req := range map[string]accounts.LoginRequest{
		"unknown phone":    {Phone: "13900000000", Password: "password-13900000000"},
		"malformed phone":  {Phone: "abc", Password: "x"},
		"wrong password":   {Phone: "13100000008", Password: "password-x"},
		"disabled account": {Phone: "13100000009", Password: "password-13100000009"},
		"pending account":  {Phone: "13100000010", Password: "password-13100000010"},
	} {
		req.IP = "198.51.100.7"
		_, err := e.svc.Login(ctx, req)
		status, code, msg := accounts.Describe(err)
		if err != accounts.ErrBadCredentials || status != 401 || code != "bad_credentials" || msg != "手机号或密码错误" {
			t.Errorf("%s: %v (%d %s %s)", name, err, status, code, msg)
		}
	}
}

func TestSMSStepUpForANewWeChatIdentity(t *testing.T) {
	e := newEnv(t)
	admin := e.adminOf(t, "coA", "13100000001")
	mgr := e.account(t, admin, "coA", staff.Manager, "13100000011")
	login := func(openid string) (accounts.LoginResult, error) {
		return e.svc.Login(ctx, accounts.LoginRequest{Phone: mgr.Phone, Password: "password-" + mgr.Phone, IP: "100.64.0.1", OpenID: openid})
	}
	// First login inside WeChat: nothing bound yet → SMS.
	res, err := login("oFIRST")
	if err != nil || res.SessionID != "" || res.SMSChallenge == "" {
		t.Fatalf("first WeChat login = %+v %v", res, err)
	}
	code := e.out.lastCode(t, mgr.Phone)
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	if _, err := e.svc.VerifySMS(ctx, res.SMSChallenge, wrong, "100.64.0.1"); !errors.Is(err, accounts.ErrBadCode) {
		t.Fatalf("wrong code: %v", err)
	}
	ok, err := e.svc.VerifySMS(ctx, res.SMSChallenge, code, "100.64.0.1")
	if err != nil || ok.SessionID == "" || ok.Principal.StaffID != mgr.ID {
		t.Fatalf("right code: %+v %v", ok, err)
	}
	if _, err := e.svc.VerifySMS(ctx, res.SMSChallenge, code, "100.64.0.1"); !errors.Is(err, accounts.ErrBadCode) {
		t.Fatalf("code used twice: %v", err)
	}
	if st, _ := e.repo.GetStaff(ctx, mgr.ID); st.OpenID != "oFIRST" {
		t.Fatalf("openid bound: %q", st.OpenID)
	}
	// The bound identity logs in directly; outside WeChat too; another identity needs SMS.
	if res, err := login("oFIRST"); err != nil || res.SessionID == "" {
		t.Fatalf("bound identity: %+v %v", res, err)
	}
	if res, err := login(""); err != nil || res.SessionID == "" {
		t.Fatalf("outside WeChat: %+v %v", res, err)
	}
	e.clk.add(time.Minute)
	res, err = login("oSECOND")
	if err != nil || res.SMSChallenge == "" {
		t.Fatalf("another identity: %+v %v", res, err)
	}
	// Five wrong tries burn the challenge: the right code no longer works.
	code = e.out.lastCode(t, mgr.Phone)
	for i := 0; i < 5; i++ {
		_, _ = e.svc.VerifySMS(ctx, res.SMSChallenge, "99999"+string(rune('0'+i)), "100.64.0.2")
	}
	if _, err := e.svc.VerifySMS(ctx, res.SMSChallenge, code, "100.64.0.2"); !errors.Is(err, accounts.ErrBadCode) {
		t.Fatalf("6th try with the right code: %v", err)
	}
	// Resend limits: not within 60 s; a resent code replaces the old one; 5 an hour.
	e.clk.add(time.Minute)
	res, _ = login("oSECOND")
	old := e.out.lastCode(t, mgr.Phone)
	err = e.svc.ResendSMS(ctx, res.SMSChallenge)
	if _, code, _ := accounts.Describe(err); !errors.Is(err, accounts.ErrSMSRateLimited) || code != "sms_rate_limited" {
		t.Fatalf("resend within 60 s: %v", err)
	}
	e.clk.add(time.Minute)
	if err := e.svc.ResendSMS(ctx, res.SMSChallenge); err != nil {
		t.Fatal(err)
	}
	fresh := e.out.lastCode(t, mgr.Phone)
	if fresh != old {
		if _, err := e.svc.VerifySMS(ctx, res.SMSChallenge, old, "100.64.0.3"); !errors.Is(err, accounts.ErrBadCode) {
			t.Fatalf("replaced code: %v", err)
		}
	}
	// Expiry: 5 minutes.
	e.clk.add(5 * time.Minute)
	if _, err := e.svc.VerifySMS(ctx, res.SMSChallenge, fresh, "100.64.0.3"); !errors.Is(err, accounts.ErrBadCode) {
		t.Fatalf("expired code: %v", err)
	}
	// That phone has had 5 codes within the hour (first login, 2nd identity, again, resend = 4)
	// plus one more: the sixth is refused.
	e.clk.add(time.Minute)
	if _, err := login("oTHIRD"); err != nil {
		t.Fatal(err)
	}
	e.clk.add(time.Minute)
	if _, err := login("oTHIRD"); !errors.Is(err, accounts.ErrSMSRateLimited) {
		t.Fatalf("6th code in an hour: %v", err)
	}
	if st, _ := e.repo.GetStaff(ctx, mgr.ID); st.OpenID != "oFIRST" {
		t.Fatalf("an unverified identity was bound: %q", st.OpenID)
	}
	acts := auditActions(t, e, admin, "coA")
	if count(acts, "staff.wechat_bound") != 1 {
		t.Fatalf("audit %v", acts)
	}
}

func TestTenancyAndRoles(t *testing.T) {
	e := newEnv(t)
	a := e.adminOf(t, "coA", "13100000001")
	b := e.adminOf(t, "coB", "13200000001")
	bCashier := e.account(t, b, "coB", staff.Cashier, "13200000002")
	cashierA := e.account(t, a, "coA", staff.Cashier, "13100000012")
	cashier := e.login(t, cashierA.Phone).Principal

	for name, err := range map[string]error{
		"list B's staff":    func() error { _, err := e.svc.ListCompanyStaff(ctx, a, "coB"); return err }(),
		"disable B's staff": e.svc.DisableStaff(ctx, a, bCashier.ID),
		"reset B's staff":   e.svc.ResetPassword(ctx, a, bCashier.ID),
		"B's audit":         func() error { _, err := e.svc.AuditOf(ctx, a, "coB", "", 10); return err }(),
		"platform audit":    func() error { _, err := e.svc.AuditOf(ctx, a, "", "", 10); return err }(),
		"create in B": func() error {
			_, err := e.svc.CreateStaff(ctx, a, accounts.NewStaff{CompanyID: "coB", Name: "x", Phone: "13300000000", Email: "x@x.cn", Role: staff.Cashier})
			return err
		}(),
		"reset the operator": e.svc.ResetPassword(ctx, a, e.op.StaffID),
		"record in B":        e.svc.RecordIn(ctx, a, "coB", "community.update", "community", "c1", nil, nil),
		"unknown staff":      e.svc.DisableStaff(ctx, a, "Snobody"),
	} {
		if !errors.Is(err, accounts.ErrNotFound) {
			t.Errorf("%s: %v, want not found", name, err)
		}
	}
	for name, err := range map[string]error{
		"cashier creates": func() error {
			_, err := e.svc.CreateStaff(ctx, cashier, accounts.NewStaff{CompanyID: "coA", Name: "x", Phone: "13300000001", Email: "x@x.cn", Role: staff.Cashier})
			return err
		}(),
		"cashier lists staff": func() error { _, err := e.svc.ListStaff(ctx, cashier); return err }(),
		"cashier reads audit": func() error { _, err := e.svc.Audit(ctx, cashier, "", 10); return err }(),
		"admin creates operator": func() error {
			_, err := e.svc.CreateStaff(ctx, a, accounts.NewStaff{Name: "x", Phone: "13300000002", Email: "x@x.cn", Role: staff.Operator})
			return err
		}(),
		"operator creates cashier": func() error {
			_, err := e.svc.CreateStaff(ctx, e.op, accounts.NewStaff{CompanyID: "coA", Name: "x", Phone: "13300000003", Email: "x@x.cn", Role: staff.Cashier})
			return err
		}(),
	} {
		if !errors.Is(err, accounts.ErrForbidden) {
			t.Errorf("%s: %v, want forbidden", name, err)
		}
	}
	if _, err := e.svc.CreateStaff(ctx, e.op, accounts.NewStaff{CompanyID: "coX", Name: "x", Phone: "13300000004", Email: "x@x.cn", Role: staff.Admin}); !errors.Is(err, accounts.ErrNotFound) {
		t.Errorf("admin of an unknown company: %v", err)
	}
	list, err := e.svc.ListStaff(ctx, a)
	if err != nil || len(list) != 2 {
		t.Fatalf("A's staff %+v %v", list, err)
	}
	for _, v := range list {
		if v.CompanyID != "coA" {
			t.Fatalf("A sees %+v", v)
		}
	}
	// The operator sees any company's staff and the platform's.
	if l, err := e.svc.ListCompanyStaff(ctx, e.op, "coB"); err != nil || len(l) != 2 {
		t.Fatalf("operator lists B: %+v %v", l, err)
	}
	if l, err := e.svc.ListStaff(ctx, e.op); err != nil || len(l) != 1 || l[0].Role != staff.Operator {
		t.Fatalf("operator lists operators: %+v %v", l, err)
	}
	// Audit: the operator's creation of B's admin is in B's log; A's admin does not see it.
	if acts := auditActions(t, e, e.op, "coB"); count(acts, "staff.create") != 2 {
		t.Fatalf("B's log %v", acts)
	}
	e.clk.add(time.Second)
	if err := e.svc.Record(ctx, a, "community.update", "community", "c1", map[string]string{"name": "旧"}, map[string]string{"name": "新"}); err != nil {
		t.Fatal(err)
	}
	page, _ := e.svc.Audit(ctx, a, "", 1)
	got := page.Entries[0]
	if got.Action != "community.update" || got.ActorID != a.StaffID || got.ActorRole != staff.Admin || string(got.Before) != `{"name":"旧"}` ||
		!got.At.Equal(e.clk.t) || page.Next == "" {
		t.Fatalf("recorded %+v next %q", got, page.Next)
	}
	var after map[string]string
	if json.Unmarshal(got.After, &after) != nil || after["name"] != "新" {
		t.Fatalf("after %s", got.After)
	}
}

func TestDisableEndsTheSession(t *testing.T) {
	e := newEnv(t)
	admin := e.adminOf(t, "coA", "13100000001")
	v := e.account(t, admin, "coA", staff.RiskOfficer, "13100000013")
	res := e.login(t, v.Phone)
	var inv *accounts.InvalidError
	if err := e.svc.DisableStaff(ctx, admin, admin.StaffID); !errors.As(err, &inv) {
		t.Fatalf("disable self: %v", err)
	}
	if err := e.svc.DisableStaff(ctx, admin, v.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Authenticate(ctx, res.SessionID); !errors.Is(err, accounts.ErrSessionExpired) {
		t.Fatalf("disabled account's session: %v", err)
	}
	if _, err := e.svc.Login(ctx, accounts.LoginRequest{Phone: v.Phone, Password: "password-" + v.Phone, IP: "1"}); !errors.Is(err, accounts.ErrBadCredentials) {
		t.Fatalf("disabled login: %v", err)
	}
	if err := e.svc.DisableStaff(ctx, admin, v.ID); err != nil {
		t.Fatalf("disable twice: %v", err)
	}
	if err := e.svc.ResetPassword(ctx, admin, v.ID); !errors.As(err, &inv) {
		t.Fatalf("reset a disabled account: %v", err)
	}
	page, _ := e.svc.Audit(ctx, admin, "", 100)
	n := 0
	for _, x := range page.Entries {
		if x.Action == "staff.disable" {
			n++
			if !strings.Contains(string(x.Before), `"Status":"active"`) || !strings.Contains(string(x.After), `"Status":"disabled"`) {
				t.Fatalf("disable entry %s → %s", x.Before, x.After)
			}
		}
	}
	if n != 1 {
		t.Fatalf("%d disable entries", n)
	}
}

func TestEnableAndChangeRole(t *testing.T) {
	e := newEnv(t)
	admin := e.adminOf(t, "coA", "13100000001")
	v := e.account(t, admin, "coA", staff.Cashier, "13100000014")
	if err := e.svc.DisableStaff(ctx, admin, v.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.EnableStaff(ctx, admin, v.ID); err != nil {
		t.Fatal(err)
	}
	res := e.login(t, v.Phone) // the password set before works again
	if res.Principal.Role != staff.Cashier {
		t.Fatalf("after enabling: %+v", res.Principal)
	}
	if err := e.svc.EnableStaff(ctx, admin, v.ID); err != nil {
		t.Fatalf("enable an enabled account: %v", err)
	}

	// A new role ends the session; the next login carries the new role.
	if err := e.svc.ChangeRole(ctx, admin, v.ID, staff.Manager); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Authenticate(ctx, res.SessionID); !errors.Is(err, accounts.ErrSessionExpired) {
		t.Fatalf("the old role's session: %v", err)
	}
	if again := e.login(t, v.Phone); again.Principal.Role != staff.Manager {
		t.Fatalf("after the change: %+v", again.Principal)
	}
	var inv *accounts.InvalidError
	if err := e.svc.ChangeRole(ctx, admin, admin.StaffID, staff.Cashier); !errors.As(err, &inv) {
		t.Fatalf("changing one's own role: %v", err)
	}
	if err := e.svc.ChangeRole(ctx, admin, v.ID, staff.Operator); !errors.As(err, &inv) {
		t.Fatalf("making an operator: %v", err)
	}
	// Another company's admin cannot touch the account.
	b := e.adminOf(t, "coB", "13100000002")
	if err := e.svc.ChangeRole(ctx, b, v.ID, staff.Admin); err == nil {
		t.Fatal("another company's admin changed the role")
	}
	if err := e.svc.EnableStaff(ctx, b, v.ID); err == nil {
		t.Fatal("another company's admin enabled the account")
	}
	page, _ := e.svc.Audit(ctx, admin, "", 100)
	seen := map[string]int{}
	for _, x := range page.Entries {
		seen[x.Action]++
	}
	if seen["staff.enable"] != 1 || seen["staff.role"] != 1 {
		t.Fatalf("audit %v", seen)
	}
}

func TestBootstrapOperatorOnce(t *testing.T) {
	e := newEnv(t)
	if _, err := e.svc.BootstrapOperator(ctx, accounts.NewStaff{Name: "x", Phone: "13000000001", Email: "x@example.com"}); !errors.Is(err, accounts.ErrOperatorExists) {
		t.Fatalf("second bootstrap: %v", err)
	}
	res, err := e.svc.Login(ctx, accounts.LoginRequest{Phone: "13000000000", Password: "operator-pass-1", IP: "1"})
	if err != nil || res.Principal.Role != staff.Operator || res.Principal.CompanyID != "" {
		t.Fatalf("operator login %+v %v", res, err)
	}
	if acts := auditActions(t, e, res.Principal, ""); count(acts, "staff.create") != 1 {
		t.Fatalf("platform log %v", acts)
	}
}

func TestAuthorizeOwnScope(t *testing.T) {
	mgr := accounts.Principal{StaffID: "S1", CompanyID: "coA", Role: staff.Manager}
	if err := accounts.Authorize(mgr, staff.RecordsView, "coA", "S1"); err != nil {
		t.Fatalf("own records: %v", err)
	}
	if err := accounts.Authorize(mgr, staff.RecordsView, "coA", "S2"); !errors.Is(err, accounts.ErrNotFound) {
		t.Fatalf("another manager's records: %v", err)
	}
	if err := accounts.Authorize(mgr, staff.RecordsView, "coA", ""); !errors.Is(err, accounts.ErrNotFound) {
		t.Fatalf("a community's records: %v", err)
	}
	if err := accounts.Authorize(mgr, staff.CommunityManage, "coA", ""); !errors.Is(err, accounts.ErrForbidden) {
		t.Fatalf("manage: %v", err)
	}
	if err := accounts.Authorize(accounts.Principal{Role: staff.Cashier}, staff.RecordsView, "", ""); !errors.Is(err, accounts.ErrNotFound) {
		t.Fatalf("a company role without a company: %v", err)
	}
}
