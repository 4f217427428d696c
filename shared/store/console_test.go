package store_test

import (
	"context"
	"errors"
	"sort"
	"sync"
	"testing"

	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/store"
)

func TestConsoleCreateListUpdate(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.CreateCompany(ctx, store.Company{ID: "cx-1", Name: "一号物业"}))
	must(s.CreateCompany(ctx, store.Company{ID: "cx-2", Name: "二号物业"}))
	if err := s.CreateCompany(ctx, store.Company{ID: "cx-1", Name: "重复"}); !errors.Is(err, store.ErrExists) {
		t.Fatalf("duplicate create: %v", err)
	}
	if c, _ := s.GetCompany(ctx, "cx-1"); c.Name != "一号物业" {
		t.Fatalf("duplicate create overwrote: %+v", c)
	}
	must(s.CreateCommunity(ctx, store.Community{ID: "cm-a", CompanyID: "cx-1", Name: "甲"}))
	must(s.CreateCommunity(ctx, store.Community{ID: "cm-b", CompanyID: "cx-1", Name: "乙"}))
	must(s.CreateCommunity(ctx, store.Community{ID: "cm-c", CompanyID: "cx-2", Name: "丙"}))
	// The seed's unconditional Put indexes too.
	must(s.PutCommunity(ctx, store.Community{ID: "cm-d", CompanyID: "cx-1", Name: "丁"}))
	must(s.CreateInterface(ctx, store.Interface{ID: "if-1", CompanyID: "cx-1", Channel: domain.Alipay, Status: domain.StatusApplying}))
	must(s.CreateCode(ctx, store.Code{Token: "tok-console-1", CommunityID: "cm-a", Kind: "community", Status: "active"}))

	ids := func(cs []store.Community) []string {
		var out []string
		for _, c := range cs {
			out = append(out, c.ID)
		}
		sort.Strings(out)
		return out
	}
	cs, err := s.ListCommunities(ctx, "cx-1")
	must(err)
	if got := ids(cs); len(got) != 3 || got[0] != "cm-a" || got[1] != "cm-b" || got[2] != "cm-d" {
		t.Fatalf("cx-1 communities %v", got)
	}
	if cs, _ := s.ListCommunities(ctx, "cx-2"); len(cs) != 1 || cs[0].ID != "cm-c" {
		t.Fatalf("cx-2 communities %+v", cs)
	}
	if is, _ := s.ListInterfaces(ctx, "cx-1"); len(is) != 1 || is[0].ID != "if-1" {
		t.Fatalf("interfaces %+v (communities must not be listed as interfaces)", is)
	}
	if codes, _ := s.ListCodes(ctx, "cm-a"); len(codes) != 1 || codes[0].Token != "tok-console-1" {
		t.Fatalf("codes %+v", codes)
	}
	if cos, _ := s.ListCompanies(ctx); len(cos) < 2 {
		t.Fatalf("companies %+v", cos)
	}

	before, after, err := s.UpdateCommunity(ctx, "cm-a", func(c *store.Community) error {
		c.Name = "甲改"
		c.PayerFields = domain.PayerFields{{Key: "room", Label: "房号", Type: domain.FieldText}}
		return nil
	})
	must(err)
	if before.Name != "甲" || after.Name != "甲改" || len(before.PayerFields) != 0 {
		t.Fatalf("before %+v after %+v", before, after)
	}
	// An update of a seeded (unversioned) item works, and a failing change writes nothing.
	if _, _, err := s.UpdateCommunity(ctx, "cm-d", func(c *store.Community) error { c.MaxAmountFen = 100; return nil }); err != nil {
		t.Fatal(err)
	}
	stop := errors.New("stop")
	if _, _, err := s.UpdateCommunity(ctx, "cm-d", func(c *store.Community) error { c.Name = "x"; return stop }); err != stop {
		t.Fatal(err)
	}
	if c, _ := s.GetCommunity(ctx, "cm-d"); c.Name != "丁" || c.MaxAmountFen != 100 {
		t.Fatalf("cm-d %+v", c)
	}
	if _, _, err := s.UpdateCommunity(ctx, "nope", func(*store.Community) error { return nil }); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("update of a missing item: %v", err)
	}
}

// Concurrent updates all land: none is lost under the version condition.
func TestConsoleUpdatesDoNotLoseWrites(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	if err := s.CreateCommunity(ctx, store.Community{ID: "cm-race", CompanyID: "cx-r", Name: "竞争"}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, err := s.UpdateCommunity(ctx, "cm-race", func(c *store.Community) error { c.MaxAmountFen++; return nil })
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	ok := int64(0)
	for err := range errs {
		if err == nil {
			ok++
		} else if !errors.Is(err, store.ErrConflict) {
			t.Fatal(err)
		}
	}
	if c, _ := s.GetCommunity(ctx, "cm-race"); c.MaxAmountFen != ok || ok == 0 {
		t.Fatalf("max %d after %d successful increments", c.MaxAmountFen, ok)
	}
}

func TestRotateCode(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	if err := s.CreateCode(ctx, store.Code{Token: "tok-rot-old", CommunityID: "cm-r", Kind: "community", Status: "active"}); err != nil {
		t.Fatal(err)
	}
	old, err := s.RotateCode(ctx, "tok-rot-old", store.Code{Token: "tok-rot-new", CommunityID: "cm-r", Kind: "community", Status: "active"})
	if err != nil || old.Status != "active" {
		t.Fatalf("rotate: %+v %v", old, err)
	}
	if c, _ := s.GetCode(ctx, "tok-rot-old"); c.Status != "revoked" {
		t.Fatalf("old %+v", c)
	}
	if c, _ := s.GetCode(ctx, "tok-rot-new"); c.Status != "active" {
		t.Fatalf("new %+v", c)
	}
	// Rotating a revoked code, or into an existing token, changes nothing.
	if _, err := s.RotateCode(ctx, "tok-rot-old", store.Code{Token: "tok-rot-3", CommunityID: "cm-r", Status: "active"}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("rotate revoked: %v", err)
	}
	if _, err := s.RotateCode(ctx, "tok-rot-new", store.Code{Token: "tok-rot-old", CommunityID: "cm-r", Status: "active"}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("rotate onto existing: %v", err)
	}
	if c, _ := s.GetCode(ctx, "tok-rot-new"); c.Status != "active" {
		t.Fatalf("failed rotation revoked the code: %+v", c)
	}
	if codes, _ := s.ListCodes(ctx, "cm-r"); len(codes) != 2 {
		t.Fatalf("codes %+v", codes)
	}
}
