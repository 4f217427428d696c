package calendar

import (
	"testing"
	"time"
)

func TestBusinessDayCrossesMidnightInShanghai(t *testing.T) {
	cases := []struct {
		utc  string
		want Day
	}{
		{"2026-11-28T15:59:59Z", "2026-11-28"},
		{"2026-11-28T16:00:00Z", "2026-11-29"},
		{"2026-12-31T16:00:00Z", "2027-01-01"},
	}
	for _, c := range cases {
		tm, _ := time.Parse(time.RFC3339, c.utc)
		if got := BusinessDay(tm); got != c.want {
			t.Errorf("BusinessDay(%s) = %s, want %s", c.utc, got, c.want)
		}
	}
}

func TestDayArithmeticAndFormat(t *testing.T) {
	d, err := ParseDay("2024-03-01")
	if err != nil {
		t.Fatal(err)
	}
	if d.Prev() != "2024-02-29" || d.Next() != "2024-03-02" {
		t.Fatalf("prev/next = %s/%s", d.Prev(), d.Next())
	}
	if got := d.Start().UTC().Format(time.RFC3339); got != "2024-02-29T16:00:00Z" {
		t.Fatalf("start = %s", got)
	}
	if _, err := ParseDay("2024-02-30"); err == nil {
		t.Fatal("2024-02-30 parsed")
	}
	tm := time.Date(2026, 11, 29, 2, 0, 5, 0, time.UTC)
	if got := Format(tm); got != "2026-11-29T10:00:05+08:00" {
		t.Fatalf("Format = %s", got)
	}
	if got := FormatReadable(tm); got != "2026-11-29 10:00:05" {
		t.Fatalf("FormatReadable = %s", got)
	}
}
