package notification

import (
	"strings"
	"testing"
	"time"
)

func TestRetryDelayDoublesPerReceiveUpToTheCap(t *testing.T) {
	for _, c := range []struct {
		receives int
		quota    bool
		want     time.Duration
	}{
		{0, false, 30 * time.Second}, {1, false, 30 * time.Second}, {2, false, time.Minute}, {3, false, 2 * time.Minute},
		{4, false, 4 * time.Minute}, {6, false, 15 * time.Minute}, {60, false, 15 * time.Minute},
		{1, true, 5 * time.Minute}, {2, true, 10 * time.Minute}, {4, true, 40 * time.Minute}, {5, true, 80 * time.Minute},
		{6, true, 2 * time.Hour}, {1000, true, 2 * time.Hour},
	} {
		if got := RetryDelay(c.receives, c.quota); got != c.want {
			t.Errorf("RetryDelay(%d, quota %v) = %v, want %v", c.receives, c.quota, got, c.want)
		}
	}
}

func TestExceptionsFoundIDs(t *testing.T) {
	a := NewExceptionsFound("co", "iface-1", "m1", "wechat", "2026-12-05", 3, "run-a", t0)
	b := NewExceptionsFound("co", "iface-1", "m1", "wechat", "2026-12-05", 1, "run-b", t0)
	other := NewExceptionsFound("co", "iface-2", "m2", "alipay", "2026-12-05", 1, "run-a", t0)
	if a.Type != EventExceptionsFound || a.ID != "settle:iface-1:2026-12-05:run-a" {
		t.Fatalf("event %+v", a)
	}
	if a.Group() != b.Group() || a.Group() == other.Group() {
		t.Errorf("groups %q %q %q: one per interface and day", a.Group(), b.Group(), other.Group())
	}
	if a.DedupID() == b.DedupID() || a.DedupID() != a.ID {
		t.Errorf("dedup ids %q %q: one per run", a.DedupID(), b.DedupID())
	}
	long := NewExceptionsFound("co", strings.Repeat("i", 200), "m", "wechat", "2026-12-05", 1, "r", t0)
	if len(long.DedupID()) > 128 || len(long.Group()) > 128 || long.DedupID() == long.Group() {
		t.Errorf("long ids not kept within 128 characters: %q %q", long.DedupID(), long.Group())
	}
}
