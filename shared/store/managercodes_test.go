package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/managercode"
	"github.com/estatepay/estatepay/shared/store"
)

func managerFixture(t *testing.T) *store.Store {
	t.Helper()
	s := newStore(t)
	ctx := context.Background()
	if err := s.CreateCompany(ctx, store.Company{ID: "co-m", Name: "物业M"}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateCommunity(ctx, store.Community{ID: "cm-m", CompanyID: "co-m", Name: "小区M"}); err != nil {
		t.Fatal(err)
	}
	return s
}

var mgrFields = domain.PayerFields{{Key: "company", Label: "公司名称", Type: domain.FieldText, Required: true}}

// A manager's set and its tokens are written together; a refresh replaces
// the token, whose code then pays until exactly 3 hours after the refresh;
// an edit re-presets the token in place; a revoke stops it at once.
func TestManagerCodesRefreshEditRevoke(t *testing.T) {
	s := managerFixture(t)
	ctx := context.Background()
	set, err := managercode.New("mgr-1", "co-m", "cm-m", "tokAAAAAAAAAAAAAAAAAAAAAA", t0)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateManagerCodes(ctx, set, "张经理"); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateManagerCodes(ctx, set, "张经理"); !errors.Is(err, store.ErrExists) {
		t.Fatalf("second create: %v", err)
	}
	col, err := s.LoadCollection(ctx, set.Default.Token)
	if err != nil || col.Code.OwnerID != "mgr-1" || col.Code.Kind != managercode.Kind || col.Code.OwnerName != "张经理" || col.Community.ID != "cm-m" || !col.Code.Usable(t0.Add(1000*time.Hour)) {
		t.Fatalf("default token: %+v %v", col.Code, err)
	}
	// Not among the community's codes (the community's printed code stays its own).
	if codes, err := s.ListCodes(ctx, "cm-m"); err != nil || len(codes) != 0 {
		t.Fatalf("community codes: %+v %v", codes, err)
	}

	at := t0.Add(time.Hour)
	var sup []managercode.Superseded
	before, after, err := s.ChangeManagerCodes(ctx, "mgr-1", "张经理", func(st *managercode.Set) ([]managercode.Superseded, error) {
		old, err := st.Refresh("", "tokBBBBBBBBBBBBBBBBBBBBBB", at)
		sup = []managercode.Superseded{old}
		return sup, err
	})
	if err != nil || before.Default.Token != set.Default.Token || after.Default.Token != "tokBBBBBBBBBBBBBBBBBBBBBB" {
		t.Fatalf("refresh: %+v → %+v, %v", before.Default, after.Default, err)
	}
	old, err := s.LoadCollection(ctx, set.Default.Token)
	if err != nil || !old.Code.Until().Equal(at.Add(3*time.Hour)) {
		t.Fatalf("replaced token: until %v, %v", old.Code.Until(), err)
	}
	if !old.Code.Usable(at.Add(3*time.Hour-time.Second)) || old.Code.Usable(at.Add(3*time.Hour)) {
		t.Error("the replaced token's 3 hours are not exact")
	}
	if cur, err := s.LoadCollection(ctx, after.Default.Token); err != nil || !cur.Code.Until().IsZero() {
		t.Fatalf("new token: %+v %v", cur.Code, err)
	}

	// An extra code with a preset; edited; revoked.
	_, after, err = s.ChangeManagerCodes(ctx, "mgr-1", "张经理", func(st *managercode.Set) ([]managercode.Superseded, error) {
		_, err := st.AddExtra("x1", "甲公司", "tokXXXXXXXXXXXXXXXXXXXXXX", map[string]string{"company": "甲公司"}, mgrFields, at)
		return nil, err
	})
	if err != nil || len(after.Extras) != 1 {
		t.Fatal(err)
	}
	if x, err := s.LoadCollection(ctx, "tokXXXXXXXXXXXXXXXXXXXXXX"); err != nil || x.Code.Preset["company"] != "甲公司" || x.Code.Name != "甲公司" || x.Code.CodeID != "x1" {
		t.Fatalf("extra token: %+v %v", x.Code, err)
	}
	if _, _, err = s.ChangeManagerCodes(ctx, "mgr-1", "张经理", func(st *managercode.Set) ([]managercode.Superseded, error) {
		_, err := st.EditExtra("x1", "乙公司", map[string]string{"company": "乙公司"}, mgrFields)
		return nil, err
	}); err != nil {
		t.Fatal(err)
	}
	if x, err := s.LoadCollection(ctx, "tokXXXXXXXXXXXXXXXXXXXXXX"); err != nil || x.Code.Preset["company"] != "乙公司" || x.Code.Name != "乙公司" {
		t.Fatalf("edited token: %+v %v", x.Code, err)
	}
	if _, _, err = s.ChangeManagerCodes(ctx, "mgr-1", "张经理", func(st *managercode.Set) ([]managercode.Superseded, error) {
		_, err := st.RevokeExtra("x1")
		return nil, err
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.LoadCollection(ctx, "tokXXXXXXXXXXXXXXXXXXXXXX"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("revoked token: %v", err)
	}
	// A change that fails writes nothing.
	if _, _, err := s.ChangeManagerCodes(ctx, "mgr-1", "张经理", func(st *managercode.Set) ([]managercode.Superseded, error) {
		return nil, managercode.ErrNotFound
	}); !errors.Is(err, managercode.ErrNotFound) {
		t.Fatalf("failed change: %v", err)
	}
	if got, err := s.GetManagerCodes(ctx, "mgr-1"); err != nil || got.Version != 5 {
		t.Fatalf("set version %d, %v", got.Version, err)
	}
	if sets, err := s.ListManagerCodes(ctx, "co-m"); err != nil || len(sets) != 1 || sets[0].StaffID != "mgr-1" {
		t.Fatalf("company's sets: %+v %v", sets, err)
	}
	if _, _, err := s.ChangeManagerCodes(ctx, "nobody", "", func(*managercode.Set) ([]managercode.Superseded, error) { return nil, nil }); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown manager: %v", err)
	}
}

// Two refreshes at once: both succeed one after the other (the loser reads
// again), and each replaced token has its own end.
func TestManagerCodesConcurrentRefresh(t *testing.T) {
	s := managerFixture(t)
	ctx := context.Background()
	set, _ := managercode.New("mgr-2", "co-m", "cm-m", "tok0000000000000000000000", t0)
	if err := s.CreateManagerCodes(ctx, set, "李经理"); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tok := []string{"tok1111111111111111111111", "tok2222222222222222222222"}[i]
			_, _, errs[i] = s.ChangeManagerCodes(ctx, "mgr-2", "李经理", func(st *managercode.Set) ([]managercode.Superseded, error) {
				old, err := st.Refresh("", tok, t0.Add(time.Duration(i+1)*time.Minute))
				return []managercode.Superseded{old}, err
			})
		}()
	}
	wg.Wait()
	if errs[0] != nil || errs[1] != nil {
		t.Fatal(errs)
	}
	got, _ := s.GetManagerCodes(ctx, "mgr-2")
	if got.Version != 3 {
		t.Fatalf("version %d after two refreshes", got.Version)
	}
	ended := 0
	for _, tok := range []string{"tok0000000000000000000000", "tok1111111111111111111111", "tok2222222222222222222222"} {
		c, err := s.LoadCollection(ctx, tok)
		if err != nil {
			t.Fatalf("%s: %v", tok, err)
		}
		if tok == got.Default.Token {
			if !c.Code.Until().IsZero() {
				t.Errorf("current token %s has an end", tok)
			}
			continue
		}
		if c.Code.Until().IsZero() {
			t.Errorf("replaced token %s has no end", tok)
		}
		ended++
	}
	if ended != 2 {
		t.Fatalf("%d tokens ended", ended)
	}
}
