package notice

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/estatepay/estatepay/shared/domain/bill"
	"github.com/estatepay/estatepay/shared/domain/calendar"
	"github.com/estatepay/estatepay/shared/domain/house"
)

var now = time.Date(2026, 12, 1, 2, 0, 0, 0, time.UTC)

func mk(t *testing.T, id, period, fee string, fen int64, due string) bill.Bill {
	t.Helper()
	b, err := bill.New(bill.Bill{ID: id, CompanyID: "co", CommunityID: "cm", HouseID: "h1", FeeItem: fee, Period: period, AmountFen: fen, DueDate: calendar.Day("2026-12-" + due)}, "test", now)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestNewTakesOpenBillsOldestFirst(t *testing.T) {
	h := house.House{ID: "h1", CompanyID: "co", CommunityID: "cm", Building: "3", Unit: "2", Room: "1101", OwnerName: "张三"}
	b1 := mk(t, "b1", "2026-11", "物业费", 12000, "10")
	b2 := mk(t, "b2", "2026-10", "水费", 3000, "20")
	b3 := mk(t, "b3", "2026-10", "物业费", 12000, "05")
	paid := mk(t, "b4", "2026-09", "物业费", 12000, "01")
	if err := paid.Pay(bill.Payer{EntryID: "e1"}, now); err != nil {
		t.Fatal(err)
	}
	other := mk(t, "b5", "2026-09", "物业费", 1, "01")
	other.HouseID = "h2"
	n, err := New(NewID(), h, []bill.Bill{b1, b2, b3, paid, other}, "staff:s1", now)
	if err != nil {
		t.Fatal(err)
	}
	if got := n.BillIDs; len(got) != 3 || got[0] != "b2" || got[1] != "b3" || got[2] != "b1" {
		t.Fatalf("bills %v", got)
	}
	if n.DueDate != "2026-12-20" || n.Label() != "3栋2单元1101" || len(n.ID) != 22 {
		t.Fatalf("due %s label %s id %q", n.DueDate, n.Label(), n.ID)
	}
	if _, err := New(NewID(), h, []bill.Bill{paid}, "staff:s1", now); !errors.Is(err, ErrNothingToBill) {
		t.Fatalf("settled house: %v", err)
	}
}

func TestSummarizeAsksOnlyWhatRemains(t *testing.T) {
	b1 := mk(t, "b1", "2026-11", "物业费", 12000, "10")
	b2 := mk(t, "b2", "2026-11", "水费", 3000, "10")
	b3 := mk(t, "b3", "2026-11", "停车费", 20000, "10")
	n := Notice{BillIDs: []string{"b1", "b2", "b3"}}

	s := Summarize(n, []bill.Bill{b1, b2, b3}, now)
	if s.OpenFen != 35000 || s.TotalFen != 35000 || s.Settled || s.Paying || len(s.OpenIDs) != 3 {
		t.Fatalf("fresh: %+v", s)
	}
	// b1 paid at the desk, b2 held by a payment in progress.
	if err := b1.Pay(bill.Payer{EntryID: "e1"}, now); err != nil {
		t.Fatal(err)
	}
	if err := b2.Reserve("o1", now.Add(10*time.Minute), now); err != nil {
		t.Fatal(err)
	}
	s = Summarize(n, []bill.Bill{b1, b2, b3}, now)
	if s.OpenFen != 20000 || s.PaidFen != 12000 || !s.Paying || s.Settled || s.Items[1].State != ItemPaying {
		t.Fatalf("partly: %+v", s)
	}
	// The reservation expires: the bill is open again.
	later := now.Add(11 * time.Minute)
	s = Summarize(n, []bill.Bill{b1, b2, b3}, later)
	if s.OpenFen != 23000 || s.Paying {
		t.Fatalf("expired: %+v", s)
	}
	if err := b2.Pay(bill.Payer{OrderID: "o1"}, later); err != nil {
		t.Fatal(err)
	}
	if err := b3.Waive("staff:a", "减免", later); err != nil {
		t.Fatal(err)
	}
	s = Summarize(n, []bill.Bill{b1, b2, b3}, later)
	if !s.Settled || s.OpenFen != 0 || s.TotalFen != 15000 || s.Items[2].State != ItemWaived {
		t.Fatalf("settled: %+v", s)
	}
}

func TestNoticeURL(t *testing.T) {
	for _, base := range []string{"https://pay.example.com", "https://pay.example.com/"} {
		if got := NoticeURL(base, "abc_DEF-123"); got != "https://pay.example.com/n/abc_DEF-123" {
			t.Errorf("NoticeURL(%q) = %q", base, got)
		}
	}
}

func TestSameBills(t *testing.T) {
	n := Notice{BillIDs: []string{"b1", "b2"}}
	for ids, want := range map[string]bool{"b2,b1": true, "b1,b2": true, "b1": false, "b1,b2,b3": false, "b1,b3": false} {
		if got := n.SameBills(strings.Split(ids, ",")); got != want {
			t.Errorf("SameBills(%s) = %v", ids, got)
		}
	}
}
