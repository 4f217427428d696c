package payments_test

import (
	"context"
	"errors"
	"testing"

	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/bill"
	"github.com/estatepay/estatepay/shared/domain/order"
	"github.com/estatepay/estatepay/shared/payments"
	"github.com/estatepay/estatepay/shared/store"
)

// 应收款: a manager's one-time code for two of a house's three unpaid bills
// asks exactly their sum; paying it marks exactly those bills paid in the
// order's transaction, the order collected for the manager; then it asks
// nothing. Bills of another house, or already paid, are refused.
func TestReceivableForChosenBills(t *testing.T) {
	ne := newNoticeEnv(t)
	ctx := context.Background()
	h, err := ne.st.HouseRepo().GetHouse(ctx, "co-1", ne.notice.HouseID)
	if err != nil {
		t.Fatal(err)
	}
	houses, billRepo := ne.st.HouseRepo(), ne.st.BillRepo()
	issue := func(ids ...string) error {
		_, err := payments.IssueReceivable(ctx, houses, billRepo, payments.ReceivableRequest{House: h, BillIDs: ids, CollectorID: "mgr-1"}, ne.clock())
		return err
	}
	var inv *payments.InvalidError
	for _, ids := range [][]string{nil, {"no-such-bill"}, {ne.bills[0].ID, "no-such-bill"}} {
		if err := issue(ids...); !errors.As(err, &inv) {
			t.Errorf("bills %v: %v, want an InvalidError", ids, err)
		}
	}
	rcv, err := payments.IssueReceivable(ctx, houses, billRepo, payments.ReceivableRequest{House: h, BillIDs: []string{ne.bills[2].ID, ne.bills[0].ID, ne.bills[0].ID}, CollectorID: "mgr-1"}, ne.clock())
	if err != nil {
		t.Fatal(err)
	}
	if rcv.CollectorID != "mgr-1" || len(rcv.BillIDs) != 2 || rcv.CreatedBy != "staff:mgr-1" {
		t.Fatalf("receivable: %+v", rcv)
	}
	stored, err := houses.GetNotice(ctx, rcv.ID)
	if err != nil || stored.CollectorID != "mgr-1" {
		t.Fatalf("stored: %+v %v", stored, err)
	}
	view, err := ne.svc.Notice(ctx, rcv.ID)
	if err != nil || view.Summary.OpenFen != 12000+20000 {
		t.Fatalf("asks %d, want 320.00: %v", view.Summary.OpenFen, err)
	}
	c, err := ne.svc.CreateNoticeOrder(ctx, payments.NoticeOrderRequest{NoticeID: rcv.ID, Channel: domain.Alipay, ExpectFen: 32000, IdempotencyKey: "key-receivable-0000001"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Order.CollectorID != "mgr-1" || c.Order.AmountFen != 32000 {
		t.Fatalf("order: %+v", c.Order)
	}
	paid, err := ne.confirm(t, c.Order.ID)
	if err != nil || paid.Status != order.Paid {
		t.Fatalf("confirm: %+v %v", paid.Status, err)
	}
	for i, want := range []bill.Status{bill.Paid, bill.Unpaid, bill.Paid} {
		if b := ne.bill(t, i); b.Status != want || (want == bill.Paid && b.PaidBy.OrderID != c.Order.ID) {
			t.Errorf("bill %d: %s by %+v, want %s", i, b.Status, b.PaidBy, want)
		}
	}
	if _, err := ne.svc.CreateNoticeOrder(ctx, payments.NoticeOrderRequest{NoticeID: rcv.ID, Channel: domain.Alipay, ExpectFen: 32000, IdempotencyKey: "key-receivable-0000002"}); !errors.Is(err, payments.ErrNoticeSettled) {
		t.Fatalf("paying it again: %v, want ErrNoticeSettled", err)
	}
	if err := issue(ne.bills[0].ID); !errors.As(err, &inv) {
		t.Errorf("a paid bill: %v", err)
	}
	// In the manager's records.
	p, err := ne.st.OrderRepo().QueryCollected(ctx, "co-1", "mgr-1", store.CollectedFilter{}, "")
	if err != nil || len(p.Orders) != 1 || p.Orders[0].ID != c.Order.ID {
		t.Fatalf("records: %+v %v", p.Orders, err)
	}
}
