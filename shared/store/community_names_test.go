package store_test

import (
	"context"
	"testing"

	"github.com/estatepay/estatepay/shared/store"
)

// A name is read once and then kept (a rename is seen by a new instance);
// an unknown community is "" and asked again.
func TestCommunityNamesKeptPerInstance(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	if err := s.PutCommunity(ctx, store.Community{ID: "cn-names-1", CompanyID: "co-names", Name: "阳光花园"}); err != nil {
		t.Fatal(err)
	}
	names := &store.CommunityNames{Store: s}
	if got := names.CommunityName(ctx, "cn-names-1"); got != "阳光花园" {
		t.Fatalf("name %q", got)
	}
	if err := s.PutCommunity(ctx, store.Community{ID: "cn-names-1", CompanyID: "co-names", Name: "改名后"}); err != nil {
		t.Fatal(err)
	}
	if got := names.CommunityName(ctx, "cn-names-1"); got != "阳光花园" {
		t.Fatalf("kept name %q, want the one read first", got)
	}
	if got := (&store.CommunityNames{Store: s}).CommunityName(ctx, "cn-names-1"); got != "改名后" {
		t.Fatalf("a new instance reads %q", got)
	}
	if got := names.CommunityName(ctx, "cn-names-missing"); got != "" {
		t.Fatalf("unknown community named %q", got)
	}
	if err := s.PutCommunity(ctx, store.Community{ID: "cn-names-missing", CompanyID: "co-names", Name: "后来的"}); err != nil {
		t.Fatal(err)
	}
	if got := names.CommunityName(ctx, "cn-names-missing"); got != "后来的" {
		t.Fatalf("an unknown name was kept: %q", got)
	}
}
