package staff_test

import (
	"errors"
	"testing"
	"time"

	"github.com/estatepay/estatepay/shared/domain/staff"
)

var now = time.Date(2026, 11, 29, 8, 0, 0, 0, time.UTC)

func newStaff(t *testing.T) staff.Staff {
	t.Helper()
	s, err := staff.New(staff.Staff{ID: "s1", CompanyID: "co", Name: " 张三 ", Phone: "13800000001", Email: "a@example.com", Role: staff.Manager}, now)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestNewValidates(t *testing.T) {
	s := newStaff(t)
	if s.Status != staff.Pending || s.Version != 1 || s.Name != "张三" || !s.CreatedAt.Equal(now) {
		t.Fatalf("new staff %+v", s)
	}
	base := staff.Staff{ID: "s", CompanyID: "co", Name: "李四", Phone: "13900000000", Email: "x@y.cn", Role: staff.Cashier}
	for name, mut := range map[string]func(*staff.Staff){
		"bad role":            func(s *staff.Staff) { s.Role = "root" },
		"operator in company": func(s *staff.Staff) { s.Role = staff.Operator },
		"admin without":       func(s *staff.Staff) { s.Role, s.CompanyID = staff.Admin, "" },
		"empty name":          func(s *staff.Staff) { s.Name = "  " },
		"long name": func(s *staff.Staff) {
			s.Name = "一二三四五六七八九十一二三四五六七八九十一二三四五六七八九十一二三"
		},
		"short phone":          func(s *staff.Staff) { s.Phone = "1380000000" },
		"landline":             func(s *staff.Staff) { s.Phone = "02112345678" },
		"email without domain": func(s *staff.Staff) { s.Email = "x@" },
	} {
		in := base
		mut(&in)
		var inv *staff.InvalidError
		if _, err := staff.New(in, now); !errors.As(err, &inv) {
			t.Errorf("%s: %v", name, err)
		}
	}
	op := base
	op.Role, op.CompanyID = staff.Operator, ""
	if _, err := staff.New(op, now); err != nil {
		t.Errorf("operator: %v", err)
	}
}

func TestLifecycle(t *testing.T) {
	s := newStaff(t)
	if _, err := s.StartSession("h1", ""); !errors.Is(err, staff.ErrInactive) {
		t.Fatalf("pending account started a session: %v", err)
	}
	_ = s.IssuePasswordLink("L1")
	_ = s.IssuePasswordLink("L2") // replaces L1
	if _, err := s.SetPassword("L1", "hash"); !errors.Is(err, staff.ErrLinkUsed) {
		t.Fatalf("replaced link worked: %v", err)
	}
	if _, err := s.SetPassword("L2", "hash"); err != nil || s.Status != staff.Active || s.PasswordLink != "" {
		t.Fatalf("set password: %v %+v", err, s)
	}
	if _, err := s.SetPassword("L2", "hash2"); !errors.Is(err, staff.ErrLinkUsed) {
		t.Fatalf("link used twice: %v", err)
	}
	v := s.Version
	sq, err := s.StartSession("h1", "")
	if err != nil || sq != "" || s.Session != "h1" || s.Version != v+1 {
		t.Fatalf("first session: %q %v %+v", sq, err, s)
	}
	sq, _ = s.StartSession("h2", "oNEW")
	if sq != "h1" || s.Session != "h2" || s.OpenID != "oNEW" {
		t.Fatalf("second session squeezed %q, %+v", sq, s)
	}
	if s.NeedsSMS("oNEW") || !s.NeedsSMS("oOTHER") || s.NeedsSMS("") {
		t.Fatal("NeedsSMS")
	}
	if err := s.EndSession("h1"); !errors.Is(err, staff.ErrNoSession) {
		t.Fatalf("ended a squeezed session: %v", err)
	}
	// A reset link ends the session when used.
	_ = s.IssuePasswordLink("L3")
	ended, err := s.SetPassword("L3", "hash3")
	if err != nil || ended != "h2" || s.Session != "" {
		t.Fatalf("reset: %q %v", ended, err)
	}
	_, _ = s.StartSession("h3", "")
	ended, err = s.Disable()
	if err != nil || ended != "h3" || s.Status != staff.Disabled || s.Session != "" {
		t.Fatalf("disable: %q %v %+v", ended, err, s)
	}
	if _, err := s.Disable(); !errors.Is(err, staff.ErrNoChange) {
		t.Fatalf("disable twice: %v", err)
	}
	if err := s.IssuePasswordLink("L4"); !errors.Is(err, staff.ErrDisabled) {
		t.Fatalf("link for a disabled account: %v", err)
	}
	if _, err := s.StartSession("h4", ""); !errors.Is(err, staff.ErrInactive) {
		t.Fatalf("disabled account logged in: %v", err)
	}
}

func TestFirstWeChatLoginNeedsSMS(t *testing.T) {
	s := newStaff(t)
	if !s.NeedsSMS("oFIRST") {
		t.Fatal("the first WeChat identity is bound without an SMS code")
	}
}

func TestBindOfficialAccount(t *testing.T) {
	s := newStaff(t)
	if err := s.BindOfficialAccount("oA", now); !errors.Is(err, staff.ErrInactive) || s.OfficialOpenID != "" {
		t.Fatalf("a pending account bound: %v %+v", err, s)
	}
	s.Status = staff.Active
	v := s.Version
	if err := s.BindOfficialAccount("", now); err == nil || s.Version != v {
		t.Fatalf("an empty openid bound: %v", err)
	}
	if err := s.BindOfficialAccount("oA", now); err != nil || s.OfficialOpenID != "oA" || !s.OfficialBoundAt.Equal(now) || s.Version != v+1 {
		t.Fatalf("bind: %v %+v", err, s)
	}
	// Binding again replaces the identity; the login-bound one is untouched.
	later := now.Add(time.Hour)
	if err := s.BindOfficialAccount("oB", later); err != nil || s.OfficialOpenID != "oB" || !s.OfficialBoundAt.Equal(later) || s.OpenID != "" {
		t.Fatalf("rebind: %v %+v", err, s)
	}
	if _, err := s.Disable(); err != nil {
		t.Fatal(err)
	}
	if err := s.BindOfficialAccount("oC", later); !errors.Is(err, staff.ErrInactive) || s.OfficialOpenID != "oB" {
		t.Fatalf("a disabled account bound: %v %+v", err, s)
	}
}
