// Package accesstest is the contract suite of the AccessTable repository
// (accounts.Repository): the DynamoDB adapter (against the embedded
// DynamoDB, or real DynamoDB — see shared/store's tests) and the in-memory
// fake both run it, so application tests written against the fake hold for
// the real thing.
package accesstest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/estatepay/estatepay/shared/accounts"
	"github.com/estatepay/estatepay/shared/auth"
	"github.com/estatepay/estatepay/shared/domain/staff"
)

var seq atomic.Int64

// unique is a suffix no other run uses (real DynamoDB keeps what tests write).
func unique() string { return fmt.Sprintf("%d%03d", time.Now().UnixNano(), seq.Add(1)%1000) }

// phone is a fresh valid phone number.
func phone() string {
	return fmt.Sprintf("19%09d", (time.Now().UnixNano()/1000+seq.Add(1))%1_000_000_000)
}

// NewStaff is a fresh pending account of company.
func NewStaff(t testing.TB, company, name string, now time.Time) staff.Staff {
	t.Helper()
	role := staff.Cashier
	if company == "" {
		role = staff.Operator
	}
	s, err := staff.New(staff.Staff{ID: "T" + unique(), CompanyID: company, Name: name, Phone: phone(), Email: "t@example.com", Role: role}, now)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Run runs the contract against repositories made by newRepo.
func Run(t *testing.T, newRepo func(t *testing.T) accounts.Repository) {
	ctx := context.Background()
	// Times close to the wall clock: the embedded DynamoDB expires items by it.
	now := time.Now().UTC().Truncate(time.Second)

	t.Run("accounts: create once per phone, optimistic updates, listing by company", func(t *testing.T) {
		r := newRepo(t)
		company := "co" + unique()
		b := NewStaff(t, company, "Bob", now)
		a := NewStaff(t, company, "Alice", now)
		other := NewStaff(t, "other"+unique(), "Carol", now)
		for _, s := range []staff.Staff{b, a, other} {
			if err := r.Apply(ctx, accounts.Change{Staff: &s}); err != nil {
				t.Fatal(err)
			}
		}
		dup := NewStaff(t, company, "Dup", now)
		dup.Phone = a.Phone
		if err := r.Apply(ctx, accounts.Change{Staff: &dup}); !errors.Is(err, accounts.ErrPhoneTaken) {
			t.Fatalf("second account with a phone: %v", err)
		}
		if _, err := r.GetStaff(ctx, dup.ID); !errors.Is(err, accounts.ErrNotFound) {
			t.Fatalf("the refused account was stored: %v", err)
		}
		got, err := r.GetStaff(ctx, a.ID)
		if err != nil || got.Name != "Alice" || got.Phone != a.Phone || got.Role != staff.Cashier || got.Status != staff.Pending ||
			got.Version != a.Version || !got.CreatedAt.Equal(a.CreatedAt) || got.CompanyID != company {
			t.Fatalf("get = %+v %v", got, err)
		}
		if id, err := r.StaffIDByPhone(ctx, a.Phone); err != nil || id != a.ID {
			t.Fatalf("by phone = %q %v", id, err)
		}
		if _, err := r.StaffIDByPhone(ctx, "10000000000"); !errors.Is(err, accounts.ErrNotFound) {
			t.Fatalf("unknown phone: %v", err)
		}
		if _, err := r.GetStaff(ctx, "nobody"); !errors.Is(err, accounts.ErrNotFound) {
			t.Fatalf("unknown id: %v", err)
		}
		list, err := r.ListStaff(ctx, company)
		if err != nil || len(list) != 2 || list[0].ID != a.ID || list[1].ID != b.ID {
			t.Fatalf("list = %+v %v", list, err)
		}
		// An update stores only on the version read.
		next := got
		_ = next.IssuePasswordLink("link")
		if err := r.Apply(ctx, accounts.Change{Staff: &next, PrevVersion: got.Version}); err != nil {
			t.Fatal(err)
		}
		stale := got
		stale.Name = "Stale"
		stale.Version++
		err = r.Apply(ctx, accounts.Change{Staff: &stale, PrevVersion: got.Version,
			Audit: []accounts.AuditEntry{{CompanyID: company, ID: "E" + unique(), At: now, Action: "x"}}})
		if !errors.Is(err, accounts.ErrConflict) {
			t.Fatalf("stale update: %v", err)
		}
		if cur, _ := r.GetStaff(ctx, a.ID); cur.Name != "Alice" || cur.PasswordLink != "link" || cur.Version != next.Version {
			t.Fatalf("after a stale update: %+v", cur)
		}
		if p, _, _ := r.AuditPage(ctx, company, "", 10); len(p) != 0 {
			t.Fatalf("a refused change wrote its audit entry: %+v", p)
		}
	})

	t.Run("operators list apart; the first operator once", func(t *testing.T) {
		r := newRepo(t)
		op := NewStaff(t, "", "Op", now)
		err := r.Apply(ctx, accounts.Change{Staff: &op, Bootstrap: true})
		if err != nil && !errors.Is(err, accounts.ErrOperatorExists) { // real DynamoDB may hold one from earlier runs
			t.Fatal(err)
		}
		op2 := NewStaff(t, "", "Op2", now)
		if err := r.Apply(ctx, accounts.Change{Staff: &op2, Bootstrap: true}); !errors.Is(err, accounts.ErrOperatorExists) {
			t.Fatalf("second bootstrap: %v", err)
		}
		if _, err := r.GetStaff(ctx, op2.ID); !errors.Is(err, accounts.ErrNotFound) {
			t.Fatal("the refused operator was stored")
		}
		op3 := NewStaff(t, "", "Op3", now)
		if err := r.Apply(ctx, accounts.Change{Staff: &op3}); err != nil { // an operator created by an operator
			t.Fatal(err)
		}
		list, _ := r.ListStaff(ctx, "")
		found := false
		for _, s := range list {
			found = found || s.ID == op3.ID
			if s.CompanyID != "" {
				t.Fatalf("operator list holds %+v", s)
			}
		}
		if !found {
			t.Fatal("operator not listed")
		}
	})

	t.Run("sessions: start, touch once, squeeze, report once, end", func(t *testing.T) {
		r := newRepo(t)
		st := NewStaff(t, "co"+unique(), "Sam", now)
		_ = r.Apply(ctx, accounts.Change{Staff: &st})
		s1 := accounts.Session{Hash: "h1" + unique(), StaffID: st.ID, CompanyID: st.CompanyID, Name: st.Name, Phone: st.Phone, Role: st.Role,
			CSRF: "csrf1", IP: "10.0.0.1", CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(12 * time.Hour)}
		if err := r.Apply(ctx, accounts.Change{PutSession: &s1}); err != nil {
			t.Fatal(err)
		}
		if err := r.Apply(ctx, accounts.Change{PutSession: &s1}); !errors.Is(err, accounts.ErrConflict) {
			t.Fatalf("session stored twice: %v", err)
		}
		got, err := r.GetSession(ctx, s1.Hash)
		if err != nil || got.StaffID != st.ID || got.CSRF != "csrf1" || got.Role != st.Role || !got.ExpiresAt.Equal(s1.ExpiresAt) ||
			!got.LastSeen.Equal(now) || !got.SqueezedAt.IsZero() || got.IP != "10.0.0.1" {
			t.Fatalf("session = %+v %v", got, err)
		}
		later := now.Add(2 * time.Minute)
		if err := r.TouchSession(ctx, s1.Hash, got.LastSeen, later); err != nil {
			t.Fatal(err)
		}
		if err := r.TouchSession(ctx, s1.Hash, got.LastSeen, later.Add(time.Second)); !errors.Is(err, accounts.ErrConflict) {
			t.Fatalf("second touch from the same read: %v", err)
		}
		if got, _ := r.GetSession(ctx, s1.Hash); !got.LastSeen.Equal(later) {
			t.Fatalf("last seen %v", got.LastSeen)
		}
		// A new session squeezes s1 out, in one change with the account.
		s2 := s1
		s2.Hash, s2.CSRF = "h2"+unique(), "csrf2"
		next := st
		next.Session = s2.Hash
		next.Version++
		if err := r.Apply(ctx, accounts.Change{Staff: &next, PrevVersion: st.Version, PutSession: &s2, Squeeze: s1.Hash, SqueezedAt: later,
			ClearThrottles: []string{"phone#" + st.Phone}}); err != nil {
			t.Fatal(err)
		}
		got, _ = r.GetSession(ctx, s1.Hash)
		if !got.SqueezedAt.Equal(later) || got.SqueezeReported {
			t.Fatalf("squeezed session %+v", got)
		}
		if acc, _ := r.GetStaff(ctx, st.ID); acc.Session != s2.Hash {
			t.Fatalf("account session %q", acc.Session)
		}
		e := accounts.AuditEntry{CompanyID: st.CompanyID, ID: "E" + unique(), At: later, ActorID: st.ID, Action: "session.squeezed_out"}
		if err := r.AuditSqueeze(ctx, s1.Hash, e); err != nil {
			t.Fatal(err)
		}
		e2 := e
		e2.ID = "E" + unique()
		if err := r.AuditSqueeze(ctx, s1.Hash, e2); !errors.Is(err, accounts.ErrConflict) {
			t.Fatalf("reported twice: %v", err)
		}
		if got, _ := r.GetSession(ctx, s1.Hash); !got.SqueezeReported {
			t.Fatal("not marked reported")
		}
		if p, _, _ := r.AuditPage(ctx, st.CompanyID, "", 10); len(p) != 1 || p[0].ID != e.ID {
			t.Fatalf("squeeze audit entries %+v", p)
		}
		// Squeezing a session that is gone leaves nothing that reads as a session.
		gone := "gone" + unique()
		if err := r.Apply(ctx, accounts.Change{Squeeze: gone, SqueezedAt: later}); err != nil {
			t.Fatal(err)
		}
		if _, err := r.GetSession(ctx, gone); !errors.Is(err, accounts.ErrNotFound) {
			t.Fatalf("a squeezed missing session reads as %v", err)
		}
		if err := r.AuditSqueeze(ctx, gone, e2); !errors.Is(err, accounts.ErrConflict) {
			t.Fatalf("reported a missing session: %v", err)
		}
		if err := r.Apply(ctx, accounts.Change{EndSessions: []string{s2.Hash}}); err != nil {
			t.Fatal(err)
		}
		if _, err := r.GetSession(ctx, s2.Hash); !errors.Is(err, accounts.ErrNotFound) {
			t.Fatalf("ended session: %v", err)
		}
	})

	t.Run("password links and challenges", func(t *testing.T) {
		r := newRepo(t)
		l := accounts.PasswordLink{Hash: "L" + unique(), StaffID: "S1", ExpiresAt: now.Add(24 * time.Hour)}
		if err := r.Apply(ctx, accounts.Change{PutLink: &l}); err != nil {
			t.Fatal(err)
		}
		if got, err := r.GetPasswordLink(ctx, l.Hash); err != nil || got.StaffID != "S1" || !got.ExpiresAt.Equal(l.ExpiresAt) {
			t.Fatalf("link %+v %v", got, err)
		}
		_ = r.Apply(ctx, accounts.Change{DeleteLinks: []string{l.Hash}})
		if _, err := r.GetPasswordLink(ctx, l.Hash); !errors.Is(err, accounts.ErrNotFound) {
			t.Fatalf("deleted link: %v", err)
		}

		c := accounts.Challenge{ID: "C" + unique(), StaffID: "S1", Phone: "13800000000", OpenID: "oX", CodeHash: "h", Sends: 1,
			SentAt: now, ExpiresAt: now.Add(5 * time.Minute)}
		if err := r.PutChallenge(ctx, c); err != nil {
			t.Fatal(err)
		}
		if err := r.PutChallenge(ctx, c); !errors.Is(err, accounts.ErrConflict) {
			t.Fatalf("challenge stored twice: %v", err)
		}
		for i := 1; i <= 3; i++ {
			got, err := r.TryChallenge(ctx, c.ID, 3)
			if err != nil || got.Tries != i || got.OpenID != "oX" || got.CodeHash != "h" || !got.ExpiresAt.Equal(c.ExpiresAt) {
				t.Fatalf("try %d = %+v %v", i, got, err)
			}
		}
		if _, err := r.TryChallenge(ctx, c.ID, 3); !errors.Is(err, accounts.ErrConflict) {
			t.Fatalf("4th try of 3: %v", err)
		}
		if _, err := r.TryChallenge(ctx, "nope"+unique(), 3); !errors.Is(err, accounts.ErrNotFound) {
			t.Fatalf("unknown challenge: %v", err)
		}
		if err := r.ResendChallenge(ctx, c.ID, 1, "h2", now.Add(time.Minute), now.Add(6*time.Minute)); err != nil {
			t.Fatal(err)
		}
		if err := r.ResendChallenge(ctx, c.ID, 1, "h3", now.Add(time.Minute), now.Add(6*time.Minute)); !errors.Is(err, accounts.ErrConflict) {
			t.Fatalf("concurrent resend: %v", err)
		}
		got, err := r.GetChallenge(ctx, c.ID)
		if err != nil || got.Sends != 2 || got.Tries != 0 || got.CodeHash != "h2" || !got.ExpiresAt.Equal(now.Add(6*time.Minute)) {
			t.Fatalf("after resend %+v %v", got, err)
		}
		if err := r.Apply(ctx, accounts.Change{UseChallenge: c.ID}); err != nil {
			t.Fatal(err)
		}
		if err := r.Apply(ctx, accounts.Change{UseChallenge: c.ID}); !errors.Is(err, accounts.ErrConflict) {
			t.Fatalf("challenge used twice: %v", err)
		}
	})

	t.Run("throttles count every concurrent failure", func(t *testing.T) {
		r := newRepo(t)
		key := "ip#" + unique()
		if c, err := r.GetThrottle(ctx, key); err != nil || c.Count != 0 || c.Version != 0 {
			t.Fatalf("fresh counter %+v %v", c, err)
		}
		var wg sync.WaitGroup
		for range 10 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := r.UpdateThrottle(ctx, key, func(c *auth.Counter) (time.Time, error) {
					c.Count++
					c.LastAt = now
					return now.Add(time.Hour), nil
				}); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		c, err := r.GetThrottle(ctx, key)
		if err != nil || c.Count != 10 || c.Version != 10 || !c.LastAt.Equal(now) || !c.ExpiresAt.Equal(now.Add(time.Hour)) {
			t.Fatalf("after 10 concurrent failures: %+v %v", c, err)
		}
		refuse := errors.New("refused")
		if _, err := r.UpdateThrottle(ctx, key, func(c *auth.Counter) (time.Time, error) { c.Count = 99; return now, refuse }); !errors.Is(err, refuse) {
			t.Fatalf("change error: %v", err)
		}
		if c, _ := r.GetThrottle(ctx, key); c.Count != 10 {
			t.Fatalf("a refused change was stored: %+v", c)
		}
		_ = r.Apply(ctx, accounts.Change{ClearThrottles: []string{key}})
		if c, _ := r.GetThrottle(ctx, key); c.Count != 0 {
			t.Fatalf("cleared counter %+v", c)
		}
	})

	t.Run("audit pages newest first, per log", func(t *testing.T) {
		r := newRepo(t)
		company := "co" + unique()
		var ids []string
		for i := range 5 {
			e := accounts.AuditEntry{CompanyID: company, ID: fmt.Sprintf("E%d", i), At: now.Add(time.Duration(i) * time.Second),
				ActorID: "S1", ActorName: "张三", ActorRole: staff.Admin, Action: "staff.create", TargetKind: "staff", TargetID: "S2",
				Before: []byte("null"), After: []byte(`{"name":"李四"}`)}
			ids = append([]string{e.ID}, ids...)
			if err := r.Apply(ctx, accounts.Change{Audit: []accounts.AuditEntry{e}}); err != nil {
				t.Fatal(err)
			}
		}
		_ = r.Apply(ctx, accounts.Change{Audit: []accounts.AuditEntry{{CompanyID: "", ID: "P" + unique(), At: now, Action: "platform"}}})
		var got []string
		cursor := ""
		for page := 0; ; page++ {
			es, next, err := r.AuditPage(ctx, company, cursor, 2)
			if err != nil || page > 3 {
				t.Fatalf("page %d: %v", page, err)
			}
			for _, e := range es {
				got = append(got, e.ID)
				if e.ActorName != "张三" || e.ActorRole != staff.Admin || string(e.After) != `{"name":"李四"}` || e.CompanyID != company {
					t.Fatalf("entry %+v", e)
				}
			}
			if next == "" {
				if page != 2 {
					t.Fatalf("%d pages of 2 for 5 entries", page+1)
				}
				break
			}
			cursor = next
		}
		if fmt.Sprint(got) != fmt.Sprint(ids) {
			t.Fatalf("entries %v, want %v", got, ids)
		}
		if es, next, _ := r.AuditPage(ctx, company, "", 5); len(es) != 5 || next != "" {
			t.Fatalf("an exactly full page has a next cursor %q (%d entries)", next, len(es))
		}
		if _, _, err := r.AuditPage(ctx, company, "%%%", 2); err == nil {
			t.Fatal("a malformed cursor was accepted")
		}
	})

	t.Run("bind tokens: stored once, used once, in time, by their staff and company; the binding survives later writes", func(t *testing.T) {
		r := newRepo(t)
		company := "co" + unique()
		st := NewStaff(t, company, "Dan", now)
		if err := r.Apply(ctx, accounts.Change{Staff: &st}); err != nil {
			t.Fatal(err)
		}
		st.Status = staff.Active // as set-password would
		st.Version++
		if err := r.Apply(ctx, accounts.Change{Staff: &st, PrevVersion: st.Version - 1}); err != nil {
			t.Fatal(err)
		}
		tok := accounts.BindToken{Hash: "h" + unique(), StaffID: st.ID, CompanyID: company, CreatedAt: now, ExpiresAt: now.Add(10 * time.Minute)}
		if err := r.PutBindToken(ctx, tok); err != nil {
			t.Fatal(err)
		}
		if err := r.PutBindToken(ctx, tok); !errors.Is(err, accounts.ErrConflict) {
			t.Fatalf("the same token stored twice: %v", err)
		}
		got, err := r.GetBindToken(ctx, tok.Hash)
		if err != nil || got.StaffID != st.ID || got.CompanyID != company || !got.ExpiresAt.Equal(tok.ExpiresAt) || !got.CreatedAt.Equal(now) || !got.UsedAt.IsZero() {
			t.Fatalf("get = %+v %v", got, err)
		}
		if _, err := r.GetBindToken(ctx, "nope"+unique()); !errors.Is(err, accounts.ErrNotFound) {
			t.Fatalf("unknown token: %v", err)
		}
		bind := func(u accounts.BindUse, openid string) error {
			cur, err := r.GetStaff(ctx, st.ID)
			if err != nil {
				t.Fatal(err)
			}
			next := cur
			if err := next.BindOfficialAccount(openid, u.At); err != nil {
				t.Fatal(err)
			}
			return r.Apply(ctx, accounts.Change{Staff: &next, PrevVersion: cur.Version, UseBindToken: &u,
				Audit: []accounts.AuditEntry{{CompanyID: company, ID: "E" + unique(), At: u.At, Action: "bind"}}})
		}
		use := accounts.BindUse{Hash: tok.Hash, StaffID: st.ID, CompanyID: company, At: now.Add(time.Minute)}
		for name, u := range map[string]accounts.BindUse{
			"expired":         {Hash: tok.Hash, StaffID: st.ID, CompanyID: company, At: tok.ExpiresAt},
			"another staff":   {Hash: tok.Hash, StaffID: "other", CompanyID: company, At: use.At},
			"another company": {Hash: tok.Hash, StaffID: st.ID, CompanyID: "other" + company, At: use.At},
			"unknown":         {Hash: "nope" + unique(), StaffID: st.ID, CompanyID: company, At: use.At},
		} {
			if err := bind(u, "oWrong"); !errors.Is(err, accounts.ErrConflict) {
				t.Fatalf("%s token used: %v", name, err)
			}
		}
		if cur, _ := r.GetStaff(ctx, st.ID); cur.OfficialOpenID != "" {
			t.Fatalf("a refused use bound %+v", cur)
		}
		if p, _, _ := r.AuditPage(ctx, company, "", 10); len(p) != 0 {
			t.Fatalf("a refused use wrote its audit entry: %+v", p)
		}
		// Two uses at once (two opens of the link): at most one binds (real
		// DynamoDB may cancel both transactions as conflicting; the service
		// then reads again and retries).
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = bind(use, fmt.Sprintf("oOpen%d", i))
			}()
		}
		wg.Wait()
		want := ""
		for i, err := range errs {
			switch {
			case err == nil && want == "":
				want = fmt.Sprintf("oOpen%d", i)
			case !errors.Is(err, accounts.ErrConflict):
				t.Fatalf("concurrent uses: %v", errs)
			}
		}
		if want == "" {
			if cur, _ := r.GetStaff(ctx, st.ID); cur.OfficialOpenID != "" {
				t.Fatalf("both uses refused, yet bound: %+v", cur)
			}
			if err := bind(use, "oOpen0"); err != nil {
				t.Fatal(err)
			}
			want = "oOpen0"
		}
		if err := bind(use, "oLate"); !errors.Is(err, accounts.ErrConflict) {
			t.Fatalf("a used token used again: %v", err)
		}
		cur, _ := r.GetStaff(ctx, st.ID)
		if cur.OfficialOpenID != want || !cur.OfficialBoundAt.Equal(use.At) {
			t.Fatalf("bound %+v, want %s", cur, want)
		}
		if got, _ := r.GetBindToken(ctx, tok.Hash); !got.UsedAt.Equal(use.At) {
			t.Fatalf("token after use: %+v", got)
		}
		// A later write of the account (a login) keeps the binding.
		next := cur
		if _, err := next.StartSession("sess"+unique(), "oLogin"); err != nil {
			t.Fatal(err)
		}
		if err := r.Apply(ctx, accounts.Change{Staff: &next, PrevVersion: cur.Version}); err != nil {
			t.Fatal(err)
		}
		if after, _ := r.GetStaff(ctx, st.ID); after.OfficialOpenID != cur.OfficialOpenID || after.OpenID != "oLogin" || !after.OfficialBoundAt.Equal(use.At) {
			t.Fatalf("after a login: %+v", after)
		}
	})
}
