package accounts_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/estatepay/estatepay/shared/accounts"
	"github.com/estatepay/estatepay/shared/auth"
	"github.com/estatepay/estatepay/shared/domain/staff"
)

func TestBindLinkExpiresAfterTenMinutes(t *testing.T) {
	e := newEnv(t)
	admin := e.adminOf(t, "coA", "13100000001")
	link, err := e.svc.IssueBindLink(ctx, admin)
	if err != nil || len(link.Token) < 40 || !link.ExpiresAt.Equal(e.clk.now().Add(accounts.BindLinkTTL)) {
		t.Fatalf("issue = %+v %v", link, err)
	}
	if _, err := e.repo.GetBindToken(ctx, link.Token); !errors.Is(err, accounts.ErrNotFound) {
		t.Fatal("the token itself is stored (only its hash may be)")
	}
	e.clk.add(accounts.BindLinkTTL - time.Second)
	if err := e.svc.CheckBindLink(ctx, link.Token); err != nil {
		t.Fatalf("at 9:59 the link works: %v", err)
	}
	e.clk.add(time.Second)
	if err := e.svc.CheckBindLink(ctx, link.Token); !errors.Is(err, accounts.ErrBindExpired) {
		t.Fatalf("at 10:00 the link still works: %v", err)
	}
	if _, err := e.svc.BindOfficialAccount(ctx, link.Token, "oLate"); !errors.Is(err, accounts.ErrBindExpired) {
		t.Fatalf("an expired link bound: %v", err)
	}
	if b, _ := e.svc.OfficialAccount(ctx, admin); b.OpenID != "" {
		t.Fatalf("bound through an expired link: %+v", b)
	}
	for _, tok := range []string{"", "garbage", strings.Repeat("x", 500)} {
		if err := e.svc.CheckBindLink(ctx, tok); !errors.Is(err, accounts.ErrBindExpired) {
			t.Fatalf("token %q: %v", tok, err)
		}
	}
	if st, code, msg := accounts.Describe(accounts.ErrBindExpired); st != 410 || code != "bind_link_expired" || msg != "链接已失效" {
		t.Fatalf("describe = %d %s %s", st, code, msg)
	}
}

func TestBindLinkBindsOnceEvenWhenOpenedTwiceAtOnce(t *testing.T) {
	e := newEnv(t)
	admin := e.adminOf(t, "coA", "13100000001")
	link, err := e.svc.IssueBindLink(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	views := make([]accounts.StaffView, 8)
	errs := make([]error, len(views))
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			views[i], errs[i] = e.svc.BindOfficialAccount(ctx, link.Token, fmt.Sprintf("oOpen%d", i))
		}()
	}
	wg.Wait()
	won := -1
	for i, err := range errs {
		switch {
		case err == nil && won < 0:
			won = i
		case err == nil:
			t.Fatalf("two opens bound: %d and %d", won, i)
		case !errors.Is(err, accounts.ErrBindUsed):
			t.Fatalf("open %d: %v", i, err)
		}
	}
	if won < 0 || views[won].ID != admin.StaffID {
		t.Fatalf("no open bound: %v", errs)
	}
	b, err := e.svc.OfficialAccount(ctx, admin)
	if err != nil || b.OpenID != fmt.Sprintf("oOpen%d", won) || !b.BoundAt.Equal(e.clk.now()) {
		t.Fatalf("binding = %+v %v", b, err)
	}
	if err := e.svc.CheckBindLink(ctx, link.Token); !errors.Is(err, accounts.ErrBindUsed) {
		t.Fatalf("a used link: %v", err)
	}
	// Used stays used after expiry (not 已失效): people are told what happened.
	e.clk.add(time.Hour)
	if _, err := e.svc.BindOfficialAccount(ctx, link.Token, "oLater"); !errors.Is(err, accounts.ErrBindUsed) {
		t.Fatalf("a used, expired link: %v", err)
	}
	// The bind is audited in the company's log, as done by the staff member, without the openid.
	page, err := e.svc.Audit(ctx, admin, "", 50)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, x := range page.Entries {
		if x.Action == "staff.official_account_bind" {
			n++
			if x.ActorID != admin.StaffID || x.TargetID != admin.StaffID || x.CompanyID != "coA" || strings.Contains(string(x.After), "oOpen") {
				t.Fatalf("audit entry %+v", x)
			}
		}
	}
	if n != 1 {
		t.Fatalf("%d bind entries in the audit log, want 1", n)
	}
	// A new link binds another WeChat; the login-bound identity is left alone.
	link2, _ := e.svc.IssueBindLink(ctx, admin)
	if _, err := e.svc.BindOfficialAccount(ctx, link2.Token, "oSecond"); err != nil {
		t.Fatal(err)
	}
	if b, _ := e.svc.OfficialAccount(ctx, admin); b.OpenID != "oSecond" || b.LoginOpenID {
		t.Fatalf("after binding again: %+v", b)
	}
}

func TestBindLinkIsScopedToItsStaffAndCompany(t *testing.T) {
	e := newEnv(t)
	adminA := e.adminOf(t, "coA", "13100000001")
	adminB := e.adminOf(t, "coB", "13100000002")
	// Operators have no notifications; a principal claiming another
	// company than its account's gets nothing.
	if _, err := e.svc.IssueBindLink(ctx, e.op); !errors.Is(err, accounts.ErrForbidden) {
		t.Fatalf("operator: %v", err)
	}
	forged := adminA
	forged.CompanyID = "coB"
	if _, err := e.svc.IssueBindLink(ctx, forged); !errors.Is(err, accounts.ErrNotFound) {
		t.Fatalf("a principal of another company: %v", err)
	}
	if _, err := e.svc.OfficialAccount(ctx, forged); !errors.Is(err, accounts.ErrNotFound) {
		t.Fatalf("status for another company: %v", err)
	}
	// A token whose company is not its account's (a forged or stale
	// record) binds nothing.
	token := auth.NewID()
	now := e.clk.now()
	if err := e.repo.PutBindToken(ctx, accounts.BindToken{Hash: auth.HashID(token), StaffID: adminA.StaffID, CompanyID: "coB",
		CreatedAt: now, ExpiresAt: now.Add(accounts.BindLinkTTL)}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.BindOfficialAccount(ctx, token, "oIntruder"); !errors.Is(err, accounts.ErrBindExpired) {
		t.Fatalf("a token of another company: %v", err)
	}
	for _, p := range []accounts.Principal{adminA, adminB} {
		if b, _ := e.svc.OfficialAccount(ctx, p); b.OpenID != "" {
			t.Fatalf("bound through a token of another company: %+v", b)
		}
	}
	// A link binds only the account it was issued to, and not once it is disabled.
	link, _ := e.svc.IssueBindLink(ctx, adminB)
	if err := e.svc.DisableStaff(ctx, e.op, adminB.StaffID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.BindOfficialAccount(ctx, link.Token, "oB"); !errors.Is(err, accounts.ErrBindExpired) {
		t.Fatalf("a disabled account's link: %v", err)
	}
	st, _ := e.repo.GetStaff(ctx, adminB.StaffID)
	if st.OfficialOpenID != "" || st.Status != staff.Disabled {
		t.Fatalf("disabled account after its link: %+v", st)
	}
}
