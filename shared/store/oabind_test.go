package store_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/estatepay/estatepay/shared/accounts"
	"github.com/estatepay/estatepay/shared/domain/notification"
	"github.com/estatepay/estatepay/shared/domain/staff"
)

// Opening a bind link several times at once on DynamoDB: the service's
// transaction (token used once, account at its version, audit) lets exactly
// one open bind; the others are told the link is used.
func TestBindLinkOnceOnDynamoDB(t *testing.T) {
	ctx := context.Background()
	repo := newStore(t).AccessRepo()
	now := time.Now().UTC().Truncate(time.Millisecond)
	svc := &accounts.Service{Repo: repo, Log: slog.New(slog.DiscardHandler), Now: func() time.Time { return now }}
	company := fmt.Sprintf("co-bind-%d", time.Now().UnixNano())
	st, err := staff.New(staff.Staff{ID: fmt.Sprintf("SBIND%d", time.Now().UnixNano()), CompanyID: company, Name: "绑定", Role: staff.Cashier,
		Phone: fmt.Sprintf("16%09d", time.Now().UnixNano()%1_000_000_000), Email: "b@example.com"}, now)
	if err != nil {
		t.Fatal(err)
	}
	st.Status = staff.Active
	if err := repo.Apply(ctx, accounts.Change{Staff: &st}); err != nil {
		t.Fatal(err)
	}
	me := accounts.Principal{StaffID: st.ID, CompanyID: company, Name: st.Name, Role: st.Role}
	link, err := svc.IssueBindLink(ctx, me)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = svc.BindOfficialAccount(ctx, link.Token, fmt.Sprintf("oDyn%d", i))
		}()
	}
	wg.Wait()
	won := -1
	for i, err := range errs {
		switch {
		case err == nil && won < 0:
			won = i
		case err == nil || !errors.Is(err, accounts.ErrBindUsed):
			t.Fatalf("opens: %v", errs)
		}
	}
	if won < 0 {
		t.Fatalf("no open bound: %v", errs)
	}
	b, err := svc.OfficialAccount(ctx, me)
	if err != nil || b.OpenID != fmt.Sprintf("oDyn%d", won) || !b.BoundAt.Equal(now) {
		t.Fatalf("binding = %+v %v", b, err)
	}
	page, _, err := repo.AuditPage(ctx, company, "", 10)
	if err != nil || len(page) != 1 || page[0].Action != "staff.official_account_bind" {
		t.Fatalf("audit = %+v %v", page, err)
	}
	// Ten minutes later a fresh link no longer works (the clock is the service's).
	link2, _ := svc.IssueBindLink(ctx, me)
	now = now.Add(accounts.BindLinkTTL)
	if _, err := svc.BindOfficialAccount(ctx, link2.Token, "oLate"); !errors.Is(err, accounts.ErrBindExpired) {
		t.Fatalf("expired link: %v", err)
	}
}

// The fan-out's reads of the recipients (Subscribers, Preference) carry the
// official-account openid each bound, over the preference's own; a
// preference in a company the account does not belong to gets none.
func TestSubscribersCarryTheBoundOfficialOpenID(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	repo, notes := s.AccessRepo(), s.NotificationRepo()
	now := time.Now().UTC().Truncate(time.Millisecond)
	n := time.Now().UnixNano()
	company, other := fmt.Sprintf("co-oa-%d", n), fmt.Sprintf("co-oa-other-%d", n)
	mk := func(i int, openid string) staff.Staff {
		st, err := staff.New(staff.Staff{ID: fmt.Sprintf("SOA%d-%d", n, i), CompanyID: company, Name: fmt.Sprint("员工", i), Role: staff.Cashier,
			Phone: fmt.Sprintf("15%09d", (n+int64(i))%1_000_000_000), Email: "o@example.com"}, now)
		if err != nil {
			t.Fatal(err)
		}
		st.Status, st.OpenID = staff.Active, "oLogin"+fmt.Sprint(i)
		if openid != "" {
			if err := st.BindOfficialAccount(openid, now); err != nil {
				t.Fatal(err)
			}
		}
		if err := repo.Apply(ctx, accounts.Change{Staff: &st}); err != nil {
			t.Fatal(err)
		}
		return st
	}
	bound, unbound, seeded := mk(1, "oOfficial1"), mk(2, ""), mk(3, "oOfficial3")
	for _, p := range []notification.Preference{
		{CompanyID: company, CommunityID: "cm", StaffID: bound.ID, Payments: true, Channel: notification.WeChatOA},
		{CompanyID: company, CommunityID: "cm", StaffID: unbound.ID, Payments: true, Channel: notification.WeChatOA},
		{CompanyID: company, CommunityID: "cm", StaffID: seeded.ID, Payments: true, Channel: notification.WeChatOA, OpenID: "oSeeded"},
		{CompanyID: other, CommunityID: "cm", StaffID: bound.ID, Payments: true, Channel: notification.WeChatOA},
	} {
		p.UpdatedAt = now
		if err := notes.PutPreference(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	subs, err := notes.Subscribers(ctx, company, "cm")
	if err != nil || len(subs) != 3 {
		t.Fatalf("subscribers = %+v %v", subs, err)
	}
	got := map[string]string{}
	for _, p := range subs {
		got[p.StaffID] = p.OpenID
	}
	if got[bound.ID] != "oOfficial1" || got[unbound.ID] != "" || got[seeded.ID] != "oOfficial3" {
		t.Fatalf("openids = %v", got)
	}
	if p, ok, err := notes.Preference(ctx, company, "cm", bound.ID); err != nil || !ok || p.OpenID != "oOfficial1" {
		t.Fatalf("preference = %+v %v %v", p, ok, err)
	}
	if subs, _ := notes.Subscribers(ctx, other, "cm"); len(subs) != 1 || subs[0].OpenID != "" {
		t.Fatalf("another company's preference got the account's openid: %+v", subs)
	}
	// The stored preference is unchanged (the openid is read, not copied).
	prefs, _ := notes.Preferences(ctx, company, bound.ID)
	if len(prefs) != 1 || prefs[0].OpenID != "" {
		t.Fatalf("stored preference = %+v", prefs)
	}
}
