package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/store"
)

func TestCachedDirectoryReadsOncePerTTL(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	if err := s.PutInterface(ctx, store.Interface{ID: "ali-c", CompanyID: "co-c", Channel: domain.Alipay, Status: domain.StatusApproved, AppID: "2021", SellerID: "2088", SecretRef: "file://x"}); err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1000, 0)
	d := store.NewCachedDirectory(s, func() time.Time { return now })
	if i, err := d.GetInterface(ctx, "ali-c"); err != nil || i.AppID != "2021" {
		t.Fatalf("first read: %+v %v", i, err)
	}
	// Changed underneath: a warm instance keeps what it read for DirectoryTTL.
	if err := s.PutInterface(ctx, store.Interface{ID: "ali-c", CompanyID: "co-c", Channel: domain.Alipay, Status: domain.StatusApproved, AppID: "2022", SellerID: "2088", SecretRef: "file://x"}); err != nil {
		t.Fatal(err)
	}
	if i, _ := d.GetInterface(ctx, "ali-c"); i.AppID != "2021" {
		t.Fatalf("within the TTL: %s", i.AppID)
	}
	now = now.Add(store.DirectoryTTL)
	if i, _ := d.GetInterface(ctx, "ali-c"); i.AppID != "2022" {
		t.Fatalf("after the TTL: %s, want the new record", i.AppID)
	}
	// Unknown records are not cached as absent.
	if _, err := d.GetInterface(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown: %v", err)
	}
}
