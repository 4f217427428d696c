package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/estatepay/estatepay/infra/local/stacktest"
	"github.com/estatepay/estatepay/shared/store"
)

var announceNow = time.Date(2026, 12, 7, 2, 0, 0, 0, time.UTC)

func newAnnouncements(t *testing.T) *store.Announcements {
	t.Helper()
	return &store.Announcements{DB: stacktest.NewStore(t).DB, Table: "AnnouncementsTable"}
}

func announcement(audience, id string, at time.Time, fen int64) store.Announcement {
	return store.Announcement{Audience: audience, EventID: id, CompanyID: "co1", CommunityID: "cm1", Channel: "微信",
		AmountFen: fen, Text: "微信收款", Spoken: "微信收款", Tokens: []string{"wechat"}, OccurredAt: at}
}

// A redelivered or duplicated event writes nothing the second time.
func TestAnnouncementWrittenOncePerEvent(t *testing.T) {
	a, ctx := newAnnouncements(t), context.Background()
	aud := store.CompanyAudience("co1")
	ok, err := a.PutAnnouncement(ctx, announcement(aud, "o1:2", announceNow, 100), announceNow)
	if err != nil || !ok {
		t.Fatalf("first put: %v %v", ok, err)
	}
	again := announcement(aud, "o1:2", announceNow, 999) // the same event, whatever it says
	ok, err = a.PutAnnouncement(ctx, again, announceNow.Add(time.Minute))
	if err != nil || ok {
		t.Fatalf("second put: %v %v, want false, nil", ok, err)
	}
	p, err := a.Since(ctx, aud, "", announceNow)
	if err != nil || len(p.Items) != 1 || p.Items[0].AmountFen != 100 {
		t.Fatalf("items %+v %v, want the first only", p.Items, err)
	}
	if want := announceNow.Add(store.AnnouncementTTL).Unix(); p.Items[0].ExpiresAt != want {
		t.Errorf("expires_at %d, want %d", p.Items[0].ExpiresAt, want)
	}
	if _, err := a.PutAnnouncement(ctx, store.Announcement{Audience: aud, CompanyID: "co1", OccurredAt: announceNow}, announceNow); !errors.Is(err, store.ErrBadAnnouncement) {
		t.Errorf("an announcement without event id: %v", err)
	}
}

// The first poll lists the newest announcements oldest first; later polls
// return what came after, page by page when many came at once, and catch an
// announcement written late with an earlier time; another audience's
// (another company, a manager) are never in the answer.
func TestAnnouncementsSince(t *testing.T) {
	a, ctx := newAnnouncements(t), context.Background()
	co, other, mgr := store.CompanyAudience("co1"), store.CompanyAudience("co2"), store.ManagerAudience("co1", "s1")
	put := func(aud, id string, at time.Time) {
		t.Helper()
		if _, err := a.PutAnnouncement(ctx, announcement(aud, id, at, 1), announceNow); err != nil {
			t.Fatal(err)
		}
	}
	// Empty: a cursor from now.
	p, err := a.Since(ctx, co, "", announceNow)
	if err != nil || len(p.Items) != 0 || p.Cursor == "" {
		t.Fatalf("empty: %+v %v", p, err)
	}
	cur := p.Cursor
	for i := range 25 {
		put(co, fmt.Sprintf("e%02d", i), announceNow.Add(time.Duration(i)*time.Second))
	}
	put(other, "x1", announceNow.Add(time.Second))
	put(mgr, "m1", announceNow.Add(2*time.Second))

	var got []string
	seen := map[string]bool{}
	for range 4 {
		p, err := a.Since(ctx, co, cur, announceNow)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Items) > store.AnnouncementPageSize {
			t.Fatalf("%d items in one poll", len(p.Items))
		}
		for _, it := range p.Items {
			if it.Audience != co {
				t.Fatalf("another audience's announcement: %+v", it)
			}
			if !seen[it.EventID] {
				seen[it.EventID] = true
				got = append(got, it.EventID)
			}
		}
		cur = p.Cursor
	}
	if len(got) != 25 || got[0] != "e00" || got[24] != "e24" {
		t.Fatalf("polled %v, want e00..e24 in order", got)
	}
	// Late: an event of 2 minutes before the newest, written after the polls.
	put(co, "late", announceNow.Add(22*time.Second-2*time.Minute))
	found := false
	for range 3 {
		p, err := a.Since(ctx, co, cur, announceNow)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range p.Items {
			found = found || it.EventID == "late"
		}
		cur = p.Cursor
	}
	if !found {
		t.Error("the late announcement was never returned")
	}
	// The first poll: the newest 20, oldest first.
	p, err = a.Since(ctx, co, "", announceNow)
	if err != nil || len(p.Items) != store.AnnouncementPageSize || p.Items[len(p.Items)-1].EventID != "e24" || p.Items[0].EventID != "e05" {
		t.Fatalf("first poll: %d items %v", len(p.Items), err)
	}
	// Scope: the manager's audience has their own only; another company's none of co1's.
	p, _ = a.Since(ctx, mgr, "", announceNow)
	if len(p.Items) != 1 || p.Items[0].EventID != "m1" {
		t.Errorf("manager: %+v", p.Items)
	}
	p, _ = a.Since(ctx, other, "", announceNow)
	if len(p.Items) != 1 || p.Items[0].EventID != "x1" {
		t.Errorf("other company: %+v", p.Items)
	}
	for _, bad := range []string{"nope", "dzox", "cDp4"} {
		if _, err := a.Since(ctx, co, bad, announceNow); !errors.Is(err, store.ErrBadCursor) {
			t.Errorf("cursor %q: %v, want ErrBadCursor", bad, err)
		}
	}
}
