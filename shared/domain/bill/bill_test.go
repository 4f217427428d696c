package bill

import (
	"errors"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 29, 2, 0, 0, 0, time.UTC)

func newBill(t *testing.T) Bill {
	t.Helper()
	b, err := New(Bill{ID: "b1", CompanyID: "co", CommunityID: "com", HouseID: "h1", FeeItem: "物业费", Period: "2026-11", AmountFen: 12000, DueDate: "2026-11-30"}, "import:j1", t0)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestNewChecksInvariants(t *testing.T) {
	ok := Bill{ID: "b", CompanyID: "co", CommunityID: "com", HouseID: "h", FeeItem: "水费", Period: "2026-01", AmountFen: 1, DueDate: "2026-01-31"}
	cases := map[string]func(*Bill){
		"no id": func(b *Bill) { b.ID = "" }, "no house": func(b *Bill) { b.HouseID = "" },
		"zero amount": func(b *Bill) { b.AmountFen = 0 }, "negative": func(b *Bill) { b.AmountFen = -5 },
		"period 13": func(b *Bill) { b.Period = "2026-13" }, "period day": func(b *Bill) { b.Period = "2026-01-01" },
		"due date": func(b *Bill) { b.DueDate = "31/01/2026" },
	}
	for name, edit := range cases {
		b := ok
		edit(&b)
		if _, err := New(b, "x", t0); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
	b, err := New(ok, "x", t0)
	if err != nil || b.Status != Unpaid || b.Version != 1 || len(b.Audit) != 1 || b.Audit[0].Action != "created" {
		t.Fatalf("New = %+v %v", b, err)
	}
}

func TestTransitionTable(t *testing.T) {
	all := []Status{Unpaid, Reserved, Paid, Waived}
	want := map[[2]Status]bool{
		{Unpaid, Reserved}: true, {Reserved, Reserved}: true, {Reserved, Unpaid}: true,
		{Unpaid, Paid}: true, {Reserved, Paid}: true, {Paid, Unpaid}: true, {Unpaid, Waived}: true, {Reserved, Waived}: true,
	}
	for _, f := range all {
		for _, to := range all {
			if got := CanTransition(f, to); got != want[[2]Status{f, to}] {
				t.Errorf("%s → %s = %v", f, to, got)
			}
		}
	}
	for _, s := range []Status{Paid, Waived} {
		if !s.Final() {
			t.Errorf("%s not final", s)
		}
	}
}

// state builds a bill in a given state.
func state(t *testing.T, s string) Bill {
	b := newBill(t)
	switch s {
	case "unpaid":
	case "held by A": // until t0+15m
		must(t, b.Reserve("A", t0.Add(15*time.Minute), t0), &b)
	case "paid by A":
		must(t, b.Reserve("A", t0.Add(15*time.Minute), t0), &b)
		must(t, b.Pay(Payer{OrderID: "A"}, t0.Add(time.Minute)), &b)
	case "paid by cash":
		must(t, b.Pay(Payer{EntryID: "E1"}, t0.Add(time.Minute)), &b)
	case "waived":
		must(t, b.Waive("staff:s1", "duplicate bill", t0), &b)
	default:
		t.Fatalf("state %s", s)
	}
	return b
}

func must(t *testing.T, err error, _ *Bill) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestMethods(t *testing.T) {
	held, expired := t0.Add(5*time.Minute), t0.Add(20*time.Minute)
	cases := []struct {
		name   string
		from   string
		change func(*Bill) error
		err    error // nil: applied
		status Status
	}{
		{"reserve unpaid", "unpaid", func(b *Bill) error { return b.Reserve("B", t0.Add(time.Hour), held) }, nil, Reserved},
		{"reserve held by other", "held by A", func(b *Bill) error { return b.Reserve("B", t0.Add(time.Hour), held) }, ErrReserved, Reserved},
		{"reserve expired of other", "held by A", func(b *Bill) error { return b.Reserve("B", t0.Add(time.Hour), expired) }, nil, Reserved},
		{"reserve again same order same expiry", "held by A", func(b *Bill) error { return b.Reserve("A", t0.Add(15*time.Minute), held) }, ErrNoChange, Reserved},
		{"reserve again same order extends", "held by A", func(b *Bill) error { return b.Reserve("A", t0.Add(30*time.Minute), held) }, nil, Reserved},
		{"reserve expiry in the past", "unpaid", func(b *Bill) error { return b.Reserve("B", t0, held) }, ErrNotAllowed, Unpaid},
		{"reserve paid", "paid by A", func(b *Bill) error { return b.Reserve("B", t0.Add(time.Hour), expired) }, ErrPaid, Paid},
		{"reserve waived", "waived", func(b *Bill) error { return b.Reserve("B", t0.Add(time.Hour), held) }, ErrNotAllowed, Waived},

		{"release own", "held by A", func(b *Bill) error { return b.Release("A", held) }, nil, Unpaid},
		{"release other's", "held by A", func(b *Bill) error { return b.Release("B", held) }, ErrNoChange, Reserved},
		{"release paid", "paid by A", func(b *Bill) error { return b.Release("A", held) }, ErrNoChange, Paid},

		{"pay own reservation", "held by A", func(b *Bill) error { return b.Pay(Payer{OrderID: "A"}, held) }, nil, Paid},
		{"pay own expired reservation", "held by A", func(b *Bill) error { return b.Pay(Payer{OrderID: "A"}, expired) }, nil, Paid},
		{"pay other's held reservation", "held by A", func(b *Bill) error { return b.Pay(Payer{OrderID: "B"}, held) }, ErrReserved, Reserved},
		{"pay other's expired reservation", "held by A", func(b *Bill) error { return b.Pay(Payer{OrderID: "B"}, expired) }, nil, Paid},
		{"pay released", "unpaid", func(b *Bill) error { return b.Pay(Payer{OrderID: "A"}, held) }, nil, Paid},
		{"pay twice same order", "paid by A", func(b *Bill) error { return b.Pay(Payer{OrderID: "A"}, held) }, ErrNoChange, Paid},
		{"pay paid by other", "paid by A", func(b *Bill) error { return b.Pay(Payer{OrderID: "B"}, held) }, ErrPaid, Paid},
		{"cash pays unpaid", "unpaid", func(b *Bill) error { return b.Pay(Payer{EntryID: "E1"}, held) }, nil, Paid},
		{"cash on held bill", "held by A", func(b *Bill) error { return b.Pay(Payer{EntryID: "E1"}, held) }, ErrReserved, Reserved},
		{"cash on expired reservation", "held by A", func(b *Bill) error { return b.Pay(Payer{EntryID: "E1"}, expired) }, nil, Paid},
		{"cash twice same entry", "paid by cash", func(b *Bill) error { return b.Pay(Payer{EntryID: "E1"}, held) }, ErrNoChange, Paid},
		{"order on cash-paid bill", "paid by cash", func(b *Bill) error { return b.Pay(Payer{OrderID: "A"}, held) }, ErrPaid, Paid},
		{"pay waived", "waived", func(b *Bill) error { return b.Pay(Payer{OrderID: "A"}, held) }, ErrNotAllowed, Waived},
		{"pay names both", "unpaid", func(b *Bill) error { return b.Pay(Payer{OrderID: "A", EntryID: "E"}, held) }, ErrNotAllowed, Unpaid},

		{"reopen own cash payment", "paid by cash", func(b *Bill) error { return b.Reopen(Payer{EntryID: "E1"}, "staff:s1", "收错了", held) }, nil, Unpaid},
		{"reopen own order payment", "paid by A", func(b *Bill) error { return b.Reopen(Payer{OrderID: "A"}, "staff:s1", "退款", held) }, nil, Unpaid},
		{"reopen another entry's payment", "paid by cash", func(b *Bill) error { return b.Reopen(Payer{EntryID: "E2"}, "staff:s1", "x", held) }, ErrNotAllowed, Paid},
		{"reopen an order's payment as an entry", "paid by A", func(b *Bill) error { return b.Reopen(Payer{EntryID: "A"}, "staff:s1", "x", held) }, ErrNotAllowed, Paid},
		{"reopen unpaid", "unpaid", func(b *Bill) error { return b.Reopen(Payer{EntryID: "E1"}, "staff:s1", "x", held) }, ErrNoChange, Unpaid},
		{"reopen held", "held by A", func(b *Bill) error { return b.Reopen(Payer{OrderID: "A"}, "staff:s1", "x", held) }, ErrNoChange, Reserved},
		{"reopen waived", "waived", func(b *Bill) error { return b.Reopen(Payer{EntryID: "E1"}, "staff:s1", "x", held) }, ErrNoChange, Waived},
		{"reopen without reason", "paid by cash", func(b *Bill) error { return b.Reopen(Payer{EntryID: "E1"}, "staff:s1", "", held) }, ErrNotAllowed, Paid},
		{"reopen without who", "paid by cash", func(b *Bill) error { return b.Reopen(Payer{EntryID: "E1"}, "", "x", held) }, ErrNotAllowed, Paid},
		{"reopen names both", "paid by cash", func(b *Bill) error { return b.Reopen(Payer{EntryID: "E1", OrderID: "A"}, "staff:s1", "x", held) }, ErrNotAllowed, Paid},

		{"waive unpaid", "unpaid", func(b *Bill) error { return b.Waive("staff:s1", "moved out", held) }, nil, Waived},
		{"waive without reason", "unpaid", func(b *Bill) error { return b.Waive("staff:s1", "", held) }, ErrNotAllowed, Unpaid},
		{"waive held", "held by A", func(b *Bill) error { return b.Waive("staff:s1", "x", held) }, ErrReserved, Reserved},
		{"waive expired", "held by A", func(b *Bill) error { return b.Waive("staff:s1", "x", expired) }, nil, Waived},
		{"waive paid", "paid by A", func(b *Bill) error { return b.Waive("staff:s1", "x", held) }, ErrPaid, Paid},
		{"waive waived", "waived", func(b *Bill) error { return b.Waive("staff:s1", "x", held) }, ErrNoChange, Waived},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := state(t, c.from)
			after := before
			err := c.change(&after)
			if c.err == nil && err != nil || c.err != nil && !errors.Is(err, c.err) {
				t.Fatalf("err = %v, want %v", err, c.err)
			}
			if after.Status != c.status {
				t.Fatalf("status %s, want %s", after.Status, c.status)
			}
			if err != nil {
				if after.Version != before.Version || len(after.Audit) != len(before.Audit) {
					t.Fatalf("refused change moved the bill: v%d → v%d", before.Version, after.Version)
				}
				return
			}
			if after.Version != before.Version+1 || !CanTransition(before.Status, after.Status) {
				t.Fatalf("v%d %s → v%d %s", before.Version, before.Status, after.Version, after.Status)
			}
			last := after.Audit[len(after.Audit)-1]
			if len(after.Audit) != len(before.Audit)+1 || last.To != after.Status || last.From != before.Status || last.By == "" || last.At.IsZero() {
				t.Fatalf("audit %+v", after.Audit)
			}
			if after.Status == Paid && (after.ReservedBy != "" || after.PaidAt.IsZero()) {
				t.Fatalf("paid bill %+v", after)
			}
		})
	}
}

func TestAuditIsBounded(t *testing.T) {
	b := newBill(t)
	for i := range 2 * MaxAudit {
		until := t0.Add(time.Duration(i+1) * time.Hour)
		if err := b.Reserve("A", until, t0); err != nil {
			t.Fatal(err)
		}
	}
	if len(b.Audit) != MaxAudit || b.Version != int64(1+2*MaxAudit) {
		t.Fatalf("audit %d entries, version %d", len(b.Audit), b.Version)
	}
	if b.Audit[MaxAudit-1].Why != "reserved until "+t0.Add(2*MaxAudit*time.Hour).Format(time.RFC3339) || b.Audit[0].Action != "reserved" {
		t.Fatalf("kept the wrong entries: first %+v last %+v", b.Audit[0], b.Audit[MaxAudit-1])
	}
}

func TestPlansAreAllOrNothing(t *testing.T) {
	a, p := state(t, "unpaid"), state(t, "paid by A")
	a.ID, p.ID = "free", "taken"
	if _, err := PlanReserve([]Bill{a, p}, "B", t0.Add(time.Hour), t0); err == nil {
		t.Fatal("reserve with a paid bill planned")
	} else {
		var re *RefusedError
		if !errors.As(err, &re) || !errors.Is(err, ErrPaid) || len(re.IDs(ErrPaid)) != 1 || re.IDs(ErrPaid)[0] != "taken" {
			t.Fatalf("refusal %v", err)
		}
	}
	pl, err := PlanPay([]Bill{a, p}, "A", t0.Add(time.Hour))
	if err != nil || len(pl.Changed) != 1 || pl.Changed[0].ID != "free" || len(pl.Unchanged) != 1 || pl.Unchanged[0].ID != "taken" {
		t.Fatalf("pay plan %+v %v", pl, err)
	}
	if ids, err := CheckIDs([]string{"x", "y", "x"}); err != nil || len(ids) != 2 {
		t.Fatalf("CheckIDs = %v %v", ids, err)
	}
	if _, err := CheckIDs(nil); !errors.Is(err, ErrNotAllowed) {
		t.Fatalf("empty batch: %v", err)
	}
}

// A reopened bill is as good as unpaid: anyone may pay it again, and its
// trail says who took the payment back and why.
func TestReopenThenPayAgain(t *testing.T) {
	b := state(t, "paid by cash")
	at := t0.Add(time.Hour)
	if err := b.Reopen(Payer{EntryID: "E1"}, "staff:s1", "收错了户", at); err != nil {
		t.Fatal(err)
	}
	if b.PaidBy != (Payer{}) || !b.PaidAt.IsZero() || !b.Open(at) {
		t.Fatalf("reopened bill %+v", b)
	}
	last := b.Audit[len(b.Audit)-1]
	if last.Action != "reopened" || last.By != "staff:s1" || last.From != Paid || last.To != Unpaid ||
		last.Why != "payment cashier:E1 taken back: 收错了户" || !last.At.Equal(at) {
		t.Fatalf("audit %+v", last)
	}
	if err := b.Reopen(Payer{EntryID: "E1"}, "staff:s1", "again", at); !errors.Is(err, ErrNoChange) {
		t.Fatalf("second reopen: %v", err)
	}
	if err := b.Pay(Payer{OrderID: "C"}, at.Add(time.Minute)); err != nil || b.PaidBy.OrderID != "C" {
		t.Fatalf("pay after reopen: %v %+v", err, b.PaidBy)
	}
}

func TestPlanPayByAndReopen(t *testing.T) {
	free, held, cash := state(t, "unpaid"), state(t, "held by A"), state(t, "paid by cash")
	free.ID, held.ID, cash.ID = "free", "held", "cash"
	at := t0.Add(5 * time.Minute)
	// A cashier entry refuses the whole batch over a bill a payment holds.
	_, err := PlanPayBy([]Bill{free, held}, Payer{EntryID: "E9"}, at)
	var re *RefusedError
	if !errors.As(err, &re) || re.Op != "pay" || !errors.Is(err, ErrReserved) || len(re.IDs(nil)) != 1 || re.IDs(nil)[0] != "held" {
		t.Fatalf("pay over a held bill: %v", err)
	}
	pl, err := PlanPayBy([]Bill{free}, Payer{EntryID: "E9"}, at)
	if err != nil || len(pl.Changed) != 1 || pl.Changed[0].PaidBy.EntryID != "E9" || pl.Read[0].Status != Unpaid {
		t.Fatalf("pay plan %+v %v", pl, err)
	}
	// Reopening E1's payment: its bill changes, the one never paid is left.
	pl, err = PlanReopen([]Bill{cash, free}, Payer{EntryID: "E1"}, "staff:s1", "冲正", at)
	if err != nil || len(pl.Changed) != 1 || pl.Changed[0].ID != "cash" || pl.Changed[0].Status != Unpaid || len(pl.Unchanged) != 1 {
		t.Fatalf("reopen plan %+v %v", pl, err)
	}
	// Another payer's bill refuses the batch.
	if _, err := PlanReopen([]Bill{cash}, Payer{EntryID: "E2"}, "staff:s1", "冲正", at); !errors.As(err, &re) || re.Op != "reopen" || !errors.Is(err, ErrNotAllowed) {
		t.Fatalf("reopen someone else's: %v", err)
	}
}
