package template_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/estatepay/estatepay/infra/local/stack"
	"github.com/estatepay/estatepay/infra/local/stacktest"
	"github.com/estatepay/estatepay/shared/domain/order"
)

// adminRefundsAPayment is the demo admin refunding part of a demo payment,
// doing what the AdminFunction's OrdersTable grants are for: the payment read
// (GetItem), the refund stored with the order in ONE TransactWriteItems (two
// Puts), the payment's refunds listed (BatchGetItem); then the sweeper's
// schedule fires and submits the refund to the provider (the console holds
// no merchant keys), and the payment shows it refunded.
func adminRefundsAPayment(t *testing.T, s *stack.Stack) {
	t.Helper()
	ctx := context.Background()
	page, err := s.Store().OrderRepo().Records(ctx, "demo-both", "", 10)
	if err != nil {
		t.Fatal(err)
	}
	paid := ""
	for _, o := range page.Orders {
		if paid == "" && o.Status == order.Paid && o.AmountFen == 1234 && len(o.BillIDs) == 0 && o.RefundFen == 0 {
			paid = o.ID // the newest: the cashier linked the oldest
		}
	}
	if paid == "" {
		t.Fatalf("no paid payment of 12.34 in demo-both: %+v", page.Orders)
	}
	c := stacktest.Console(t, s, "admin", stack.DemoCompanyID)
	req, err := http.NewRequest(http.MethodPost, c.Base+"/admin/api/orders/"+paid+"/refunds", strings.NewReader(`{"amount_fen":234,"reason":"多收了"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", "iam-refund-key-0001")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("refund: %d", resp.StatusCode)
	}
	if _, err := s.FireSchedule(ctx, "SweeperFunction.Sweep", ""); err != nil {
		t.Fatal(err)
	}
	var got struct {
		RefundedFen int64 `json:"refunded_fen"`
		Refunds     []struct{ Status string }
	}
	stacktest.WaitFor(t, "the refund submitted and confirmed", 20*time.Second, func() bool {
		status, body := c.Call(t, http.MethodGet, "/admin/api/orders/"+paid, "", nil)
		return status == 200 && json.Unmarshal(body, &got) == nil && len(got.Refunds) == 1 && got.Refunds[0].Status == "SUCCEEDED" && got.RefundedFen == 234
	})
}
