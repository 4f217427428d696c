package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/estatepay/estatepay/infra/local/stacktest"
	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/bill"
	"github.com/estatepay/estatepay/shared/domain/cashier"
	"github.com/estatepay/estatepay/shared/domain/order"
	"github.com/estatepay/estatepay/shared/store"
)

var desk0 = time.Date(2026, 11, 29, 2, 0, 0, 0, time.UTC)

// deskFixture: company co, community cm; houses h1…hN with two bills each
// (物业费 120.00 and 水费 30.50: 150.50 a house).
type deskFixture struct {
	t  *testing.T
	st *store.Store
	r  *store.Cashier
}

func newDesk(t *testing.T, houses int) *deskFixture {
	t.Helper()
	st := newStore(t)
	f := &deskFixture{t: t, st: st, r: st.CashierRepo()}
	for i := 1; i <= houses; i++ {
		h := fmt.Sprintf("h%d", i)
		for _, b := range []struct {
			fee string
			fen int64
		}{{"物业费", 12000}, {"水费", 3050}} {
			nb, err := bill.New(bill.Bill{ID: h + "-" + b.fee, CompanyID: "co", CommunityID: "cm", HouseID: h, FeeItem: b.fee, Period: "2026-11",
				AmountFen: b.fen, DueDate: "2026-11-30"}, "import:j", desk0)
			if err != nil {
				t.Fatal(err)
			}
			if err := st.BillRepo().Create(context.Background(), nb); err != nil {
				t.Fatal(err)
			}
		}
	}
	return f
}

func (f *deskFixture) billIDs(house string) []string {
	return []string{house + "-物业费", house + "-水费"}
}

// paidOrder seeds a code payment of amount fen (edit changes it before it is stored).
func (f *deskFixture) paidOrder(id string, fen int64, edit func(*order.Order)) {
	f.t.Helper()
	o := order.Order{ID: id, CommunityID: "cm", CompanyID: "co", CodeToken: "tok", Channel: domain.Alipay, IfaceID: "if",
		MerchantID: "m", AppID: "a", AmountFen: fen}
	paidAt := desk0.Add(time.Minute)
	if edit != nil {
		edit(&o)
		if o.Status == order.Pending {
			paidAt = time.Time{}
		}
	}
	stacktest.SeedOrder(f.t, f.st, o, desk0, paidAt)
}

func (f *deskFixture) record(id, house string, m cashier.Method, orderID string) (cashier.Entry, error) {
	return f.r.Record(context.Background(), cashier.Entry{ID: id, CompanyID: "co", CommunityID: "cm", HouseID: house, Method: m, OrderID: orderID,
		By: "s1", ByName: "收银员"}, f.billIDs(house), desk0.Add(time.Hour))
}

func (f *deskFixture) bill(id string) bill.Bill {
	f.t.Helper()
	b, err := f.st.BillRepo().Get(context.Background(), id)
	if err != nil {
		f.t.Fatal(err)
	}
	return b
}

func TestCashierRecordAndReverse(t *testing.T) {
	f := newDesk(t, 2)
	ctx := context.Background()
	e, err := f.record("E1", "h1", cashier.Cash, "")
	if err != nil || e.TotalFen != 15050 || e.Status != cashier.Active {
		t.Fatalf("record: %+v %v", e, err)
	}
	for _, id := range f.billIDs("h1") {
		if b := f.bill(id); b.Status != bill.Paid || b.PaidBy.EntryID != "E1" || b.Audit[len(b.Audit)-1].By != "cashier:E1" {
			t.Fatalf("bill %s after the entry: %+v", id, b)
		}
	}
	// The same bills again: refused, nothing written.
	if _, err := f.record("E2", "h1", cashier.POS, ""); !errors.Is(err, bill.ErrPaid) {
		t.Fatalf("second entry over paid bills: %v", err)
	}
	if _, err := f.r.Get(ctx, "co", "E2"); !errors.Is(err, cashier.ErrNotFound) {
		t.Fatalf("refused entry stored: %v", err)
	}
	// Another company sees nothing.
	if _, err := f.r.Get(ctx, "co2", "E1"); !errors.Is(err, cashier.ErrNotFound) {
		t.Fatalf("other company reads the entry: %v", err)
	}
	if _, err := f.r.Reverse(ctx, "co2", "E1", "s9", "x", desk0.Add(2*time.Hour)); !errors.Is(err, cashier.ErrNotFound) {
		t.Fatalf("other company reverses: %v", err)
	}
	if p, err := f.r.ListByHouse(ctx, "co2", "h1", "", 10); err != nil || len(p.Items) != 0 {
		t.Fatalf("other company lists: %+v %v", p, err)
	}
	// A bill of another house is refused by the domain.
	if _, err := f.r.Record(ctx, cashier.Entry{ID: "E3", CompanyID: "co", CommunityID: "cm", HouseID: "h1", Method: cashier.Cash, By: "s1"},
		[]string{"h2-水费"}, desk0.Add(time.Hour)); !errors.Is(err, cashier.ErrInvalid) {
		t.Fatalf("another house's bill: %v", err)
	}

	// Reverse: the bills reopen, audited; a second reversal is refused.
	rev, err := f.r.Reverse(ctx, "co", "E1", "s2", "收错了户", desk0.Add(2*time.Hour))
	if err != nil || rev.Status != cashier.Reversed || rev.ReversedBy != "s2" || rev.Version != 2 {
		t.Fatalf("reverse: %+v %v", rev, err)
	}
	for _, id := range f.billIDs("h1") {
		b := f.bill(id)
		last := b.Audit[len(b.Audit)-1]
		if b.Status != bill.Unpaid || last.Action != "reopened" || last.By != "staff:s2" || !strings.Contains(last.Why, "收错了户") {
			t.Fatalf("bill %s after the reversal: %+v", id, b)
		}
	}
	if _, err := f.r.Reverse(ctx, "co", "E1", "s2", "again", desk0.Add(3*time.Hour)); !errors.Is(err, cashier.ErrReversed) {
		t.Fatalf("double reverse: %v", err)
	}
	// The reopened bills can be paid again.
	if _, err := f.record("E4", "h1", cashier.Transfer, ""); err != nil {
		t.Fatalf("pay after the reversal: %v", err)
	}
	p, err := f.r.ListByHouse(ctx, "co", "h1", "", 10)
	if err != nil || len(p.Items) != 2 || p.Items[0].ID != "E4" || p.Items[1].ID != "E1" || p.Items[1].Status != cashier.Reversed {
		t.Fatalf("house entries (newest first): %+v %v", p.Items, err)
	}
	if p, err := f.r.ListByCommunity(ctx, "co", "cm", "", 1); err != nil || len(p.Items) != 1 || p.Next == "" {
		t.Fatalf("community entries page: %+v %v", p, err)
	} else if p2, err := f.r.ListByCommunity(ctx, "co", "cm", p.Next, 1); err != nil || len(p2.Items) != 1 || p2.Items[0].ID != "E1" {
		t.Fatalf("community entries second page: %+v %v", p2, err)
	}
}

// The test of issue 8: the cashier linking one payment twice is refused.
func TestCashierLinksAPaymentOnce(t *testing.T) {
	f := newDesk(t, 3)
	ctx := context.Background()
	f.paidOrder("o1", 15050, nil)
	e, err := f.record("E1", "h1", cashier.Code, "o1")
	if err != nil || e.OrderID != "o1" {
		t.Fatalf("link: %+v %v", e, err)
	}
	if m, err := f.r.Linked(ctx, []string{"o1", "o2"}); err != nil || m["o1"] != "E1" || len(m) != 1 {
		t.Fatalf("Linked = %v %v", m, err)
	}
	_, err = f.record("E2", "h2", cashier.Code, "o1")
	if !errors.Is(err, cashier.ErrLinked) || cashier.Message(err) != "该收款记录已关联收款单 E1，不能重复关联" {
		t.Fatalf("second link: %v", err)
	}
	if b := f.bill("h2-物业费"); b.Status != bill.Unpaid {
		t.Fatalf("the refused link paid a bill: %+v", b)
	}
	// Reversing frees the link: the payment may then be linked, correctly, to h2.
	if _, err := f.r.Reverse(ctx, "co", "E1", "s2", "关联错了房屋", desk0.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if m, _ := f.r.Linked(ctx, []string{"o1"}); len(m) != 0 {
		t.Fatalf("link kept after the reversal: %v", m)
	}
	if _, err := f.record("E3", "h2", cashier.Code, "o1"); err != nil {
		t.Fatalf("link after the reversal: %v", err)
	}
	if _, err := f.record("E4", "h3", cashier.Code, "o1"); !errors.Is(err, cashier.ErrLinked) {
		t.Fatalf("third link: %v", err)
	}
}

// N cashiers link the same payment to N houses at once: exactly one wins.
func TestCashierLinkRace(t *testing.T) {
	const n = 8
	f := newDesk(t, n)
	f.paidOrder("o1", 15050, nil)
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = f.record(fmt.Sprintf("E%d", i+1), fmt.Sprintf("h%d", i+1), cashier.Code, "o1")
		}()
	}
	wg.Wait()
	won, paid := 0, 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, cashier.ErrLinked):
			t.Errorf("cashier %d: %v", i+1, err)
		}
		for _, id := range f.billIDs(fmt.Sprintf("h%d", i+1)) {
			if f.bill(id).Status == bill.Paid {
				paid++
			}
		}
	}
	if won != 1 || paid != 2 {
		t.Fatalf("%d links won, %d bills paid; want 1 and 2 (%v)", won, paid, errs)
	}
}

func TestCashierLinkRefusals(t *testing.T) {
	f := newDesk(t, 1)
	f.paidOrder("pending", 15050, func(o *order.Order) { o.Status = order.Pending })
	f.paidOrder("other-co", 15050, func(o *order.Order) { o.CompanyID = "co2" })
	f.paidOrder("other-cm", 15050, func(o *order.Order) { o.CommunityID = "cm2" })
	f.paidOrder("notice", 15050, func(o *order.Order) { o.NoticeID, o.HouseID, o.BillIDs = "n1", "h9", []string{"h9-物业费"} })
	f.paidOrder("short", 15000, nil)
	cases := map[string]string{
		"pending":  "该收款记录尚未支付成功，不能关联",
		"other-co": "找不到该收款记录，请核对订单号",
		"other-cm": "该收款记录不是本小区的收款码收到的",
		"notice":   "该收款记录是缴费通知单的付款，已自动缴清其账单，不能再关联",
		"short":    "金额不一致：该收款记录为 150.00 元，所选账单合计 150.50 元",
		"missing":  "找不到该收款记录，请核对订单号",
	}
	for id, msg := range cases {
		_, err := f.record("E-"+id, "h1", cashier.Code, id)
		if !errors.Is(err, cashier.ErrLink) || cashier.Message(err) != msg {
			t.Errorf("%s: %v", id, err)
		}
	}
	for _, id := range f.billIDs("h1") {
		if b := f.bill(id); b.Status != bill.Unpaid || b.Version != 1 {
			t.Fatalf("a refused link changed bill %s: %+v", id, b)
		}
	}
	if m, _ := f.r.Linked(context.Background(), []string{"pending", "other-co", "other-cm", "notice", "short", "missing"}); len(m) != 0 {
		t.Fatalf("refused links stored: %v", m)
	}
}

// A bill a resident is paying right now (a live reservation) is 正在支付:
// the cashier's entry is refused and changes nothing; once the reservation
// expires the cashier may take it.
func TestCashierRefusesABillHeldByAPayment(t *testing.T) {
	f := newDesk(t, 1)
	ctx := context.Background()
	if _, err := f.st.BillRepo().ReserveAll(ctx, "o-live", []string{"h1-水费"}, desk0.Add(65*time.Minute), desk0.Add(50*time.Minute)); err != nil {
		t.Fatal(err)
	}
	_, err := f.record("E1", "h1", cashier.Cash, "")
	var re *bill.RefusedError
	if !errors.As(err, &re) || !errors.Is(err, bill.ErrReserved) || len(re.IDs(bill.ErrReserved)) != 1 {
		t.Fatalf("entry over a held bill: %v", err)
	}
	if b := f.bill("h1-物业费"); b.Status != bill.Unpaid {
		t.Fatalf("the refused entry paid the other bill: %+v", b)
	}
	if _, err := f.r.Record(ctx, cashier.Entry{ID: "E2", CompanyID: "co", CommunityID: "cm", HouseID: "h1", Method: cashier.Cash, By: "s1"},
		f.billIDs("h1"), desk0.Add(66*time.Minute)); err != nil {
		t.Fatalf("after the reservation expired: %v", err)
	}
}
