package ttlcache

import (
	"errors"
	"testing"
	"time"
)

func TestExpiryOnTheInjectedClock(t *testing.T) {
	now := time.Unix(1000, 0)
	c := New[string, int](30*time.Second, 0, func() time.Time { return now })
	c.Set("a", 1)
	if v, ok := c.Get("a"); !ok || v != 1 {
		t.Fatalf("fresh: %v %v", v, ok)
	}
	now = now.Add(30 * time.Second)
	if _, ok := c.Get("a"); ok {
		t.Fatal("served at its expiry")
	}
}

func TestLoadCachesValuesNotErrors(t *testing.T) {
	now := time.Unix(0, 0)
	c := New[string, int](time.Minute, 0, func() time.Time { return now })
	calls := 0
	load := func() (int, error) {
		calls++
		if calls == 1 {
			return 0, errors.New("down")
		}
		return 7, nil
	}
	if _, err := c.Load("k", load); err == nil {
		t.Fatal("error not returned")
	}
	for range 3 {
		if v, err := c.Load("k", load); err != nil || v != 7 {
			t.Fatalf("load = %v %v", v, err)
		}
	}
	if calls != 2 {
		t.Fatalf("%d loads, want 2 (the failure is not kept, the value is)", calls)
	}
}

func TestBounded(t *testing.T) {
	now := time.Unix(0, 0)
	c := New[int, int](time.Minute, 3, func() time.Time { return now })
	for i := range 10 {
		c.Set(i, i)
	}
	if n := len(c.items); n != 3 {
		t.Fatalf("%d items, max 3", n)
	}
	if v, ok := c.Get(9); !ok || v != 9 {
		t.Fatal("the newest value was dropped")
	}
}
