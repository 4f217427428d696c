package cashier

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/estatepay/estatepay/shared/domain/bill"
	"github.com/estatepay/estatepay/shared/domain/order"
)

var t0 = time.Date(2026, 11, 29, 2, 0, 0, 0, time.UTC)

func bills(t *testing.T, amounts ...int64) []bill.Bill {
	t.Helper()
	var out []bill.Bill
	for i, a := range amounts {
		b, err := bill.New(bill.Bill{ID: "b" + string(rune('1'+i)), CompanyID: "co", CommunityID: "cm", HouseID: "h1", FeeItem: "物业费",
			Period: "2026-11", AmountFen: a, DueDate: "2026-11-30"}, "import:j", t0)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

func base() Entry {
	return Entry{ID: "E1", CompanyID: "co", CommunityID: "cm", HouseID: "h1", Method: Cash, By: "s1", ByName: "收银员"}
}

func TestNew(t *testing.T) {
	e, err := New(base(), bills(t, 12000, 3050), t0)
	if err != nil || e.Status != Active || e.Version != 1 || e.TotalFen != 15050 || strings.Join(e.BillIDs, ",") != "b1,b2" || !e.At.Equal(t0) {
		t.Fatalf("New = %+v %v", e, err)
	}
	if e.Payer() != (bill.Payer{EntryID: "E1"}) {
		t.Fatalf("payer %+v", e.Payer())
	}
	other := bills(t, 100)
	other[0].HouseID = "h2"
	many := make([]bill.Bill, bill.MaxBatch+1)
	for i := range many {
		many[i] = bills(t, 1)[0]
		many[i].ID = "m" + string(rune('A'+i%26)) + string(rune('A'+i/26))
	}
	cases := map[string]struct {
		edit  func(*Entry)
		bills []bill.Bill
		msg   string
	}{
		"no bills":          {func(*Entry) {}, nil, "请选择要收款的账单"},
		"too many":          {func(*Entry) {}, many, "一次最多收 100 笔账单"},
		"another house":     {func(*Entry) {}, other, "所选账单不属于这户房屋"},
		"twice":             {func(*Entry) {}, append(bills(t, 1), bills(t, 1)...), "同一笔账单选了两次"},
		"no method":         {func(e *Entry) { e.Method = "" }, bills(t, 1), "请选择收款方式"},
		"unknown method":    {func(e *Entry) { e.Method = "cheque" }, bills(t, 1), "请选择收款方式"},
		"code without link": {func(e *Entry) { e.Method = Code }, bills(t, 1), "扫码付款须填写收款记录的订单号"},
		"cash with link":    {func(e *Entry) { e.OrderID = "o1" }, bills(t, 1), "只有扫码付款可以关联收款记录"},
		"note too long":     {func(e *Entry) { e.Note = strings.Repeat("备", MaxNoteRunes+1) }, bills(t, 1), "备注最多"},
		"note newline":      {func(e *Entry) { e.Note = "a\nb" }, bills(t, 1), "备注最多"},
		"no cashier":        {func(e *Entry) { e.By = "" }, bills(t, 1), "缺少收银员"},
		"no house":          {func(e *Entry) { e.HouseID = "" }, bills(t, 1), "缺少收款单号"},
	}
	for name, c := range cases {
		e := base()
		c.edit(&e)
		_, err := New(e, c.bills, t0)
		if !errors.Is(err, ErrInvalid) || !strings.HasPrefix(Message(err), c.msg) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestCheckLink(t *testing.T) {
	e := base()
	e.Method, e.OrderID = Code, "o1"
	e, err := New(e, bills(t, 12000, 3000), t0)
	if err != nil {
		t.Fatal(err)
	}
	paid := order.Order{ID: "o1", CompanyID: "co", CommunityID: "cm", AmountFen: 15000, Status: order.Paid}
	if err := e.CheckLink(paid); err != nil {
		t.Fatalf("a matching payment: %v", err)
	}
	cases := map[string]struct {
		edit func(*order.Order)
		msg  string
	}{
		"other company":   {func(o *order.Order) { o.CompanyID = "co2" }, "找不到该收款记录"},
		"other community": {func(o *order.Order) { o.CommunityID = "cm2" }, "该收款记录不是本小区"},
		"pending":         {func(o *order.Order) { o.Status = order.Pending }, "该收款记录尚未支付成功"},
		"closed":          {func(o *order.Order) { o.Status = order.Closed }, "该收款记录尚未支付成功"},
		"refunded":        {func(o *order.Order) { o.Status = order.Refunded }, "该收款记录已退款"},
		"partly refunded": {func(o *order.Order) { o.RefundFen = 100 }, "该收款记录已退款"},
		"notice payment":  {func(o *order.Order) { o.NoticeID, o.BillIDs = "n1", []string{"bx"} }, "该收款记录是缴费通知单的付款"},
		"other amount":    {func(o *order.Order) { o.AmountFen = 14999 }, "金额不一致：该收款记录为 149.99 元，所选账单合计 150.00 元"},
	}
	for name, c := range cases {
		o := paid
		c.edit(&o)
		if err := e.CheckLink(o); !errors.Is(err, ErrLink) || !strings.HasPrefix(Message(err), c.msg) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestReverse(t *testing.T) {
	if !CanTransition(Active, Reversed) || CanTransition(Reversed, Active) || CanTransition(Reversed, Reversed) {
		t.Fatal("transition table")
	}
	e, err := New(base(), bills(t, 100), t0)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Reverse("s2", "  ", t0); !errors.Is(err, ErrInvalid) || e.Status != Active {
		t.Fatalf("no reason: %v", err)
	}
	at := t0.Add(time.Hour)
	if err := e.Reverse("s2", " 收错了户 ", at); err != nil || e.Status != Reversed || e.Version != 2 || e.ReversedWhy != "收错了户" || e.ReversedBy != "s2" || !e.ReversedAt.Equal(at) {
		t.Fatalf("reverse: %v %+v", err, e)
	}
	if err := e.Reverse("s2", "again", at); !errors.Is(err, ErrReversed) || e.Version != 2 {
		t.Fatalf("second reverse: %v", err)
	}
}
