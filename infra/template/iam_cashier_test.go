package template_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/estatepay/estatepay/infra/local/stack"
	"github.com/estatepay/estatepay/infra/local/stacktest"
	"github.com/estatepay/estatepay/shared/domain/order"
)

// cashierAtTheDesk is the demo cashier at the desk, doing what the
// AdminFunction's BillsTable grants (and the order ConditionCheck) are for:
// find a house (the community index), open it (the house, its bills and
// entries through the house index, the community's payments through the
// records index and whether they are linked: BatchGetItem), link a code
// payment of 12.34 to its bills (one TransactWriteItems: Puts on the
// BillsTable, a ConditionCheck on the OrdersTable), be refused linking it
// twice (the link item read), print the receipt, and reverse the entry
// (Puts and the link's Delete).
func cashierAtTheDesk(t *testing.T, s *stack.Stack) {
	t.Helper()
	ctx := context.Background()
	page, err := s.Store().OrderRepo().Records(ctx, "demo-both", "", 10)
	if err != nil {
		t.Fatal(err)
	}
	paid := ""
	for _, o := range page.Orders {
		if o.Status == order.Paid && o.AmountFen == 1234 && len(o.BillIDs) == 0 {
			paid = o.ID
		}
	}
	if paid == "" {
		t.Fatalf("no paid payment of 12.34 in demo-both: %+v", page.Orders)
	}
	h1, bills1 := stacktest.SeedHouseBills(t, s.Store(), stack.DemoCompanyID, "demo-both", "88", "1", "101", 1000, 234)
	h2, bills2 := stacktest.SeedHouseBills(t, s.Store(), stack.DemoCompanyID, "demo-both", "88", "1", "102", 1234)
	c := stacktest.Console(t, s, "cashier", stack.DemoCompanyID)
	if status, body := c.Call(t, http.MethodGet, "/admin/cashier?community=demo-both&building=88&unit=1", "", nil); status != 200 || !strings.Contains(string(body), "88栋1单元101") {
		t.Fatalf("find a house: %d %.300s", status, body)
	}
	if status, body := c.Call(t, http.MethodGet, "/admin/cashier/houses/"+h1.ID, "", nil); status != 200 || !strings.Contains(string(body), paid) {
		t.Fatalf("the house's desk: %d, want the payment %s offered: %.300s", status, paid, body)
	}
	entry := func(houseID string, billIDs []string) (int, []byte) {
		raw, _ := json.Marshal(map[string]any{"house_id": houseID, "bill_ids": billIDs, "method": "code", "order_id": paid})
		return c.Call(t, http.MethodPost, "/admin/api/cashier/entries", "application/json", raw)
	}
	status, body := entry(h1.ID, bills1)
	var out struct {
		Entry struct{ ID string } `json:"entry"`
	}
	if status != http.StatusCreated || json.Unmarshal(body, &out) != nil || out.Entry.ID == "" {
		t.Fatalf("link the payment: %d %s", status, body)
	}
	if status, body := entry(h2.ID, bills2); status != http.StatusConflict || !strings.Contains(string(body), "already_linked") {
		t.Fatalf("link it twice: %d %s", status, body)
	}
	if status, body := c.Call(t, http.MethodGet, "/admin/cashier/entries/"+out.Entry.ID, "", nil); status != 200 || !strings.Contains(string(body), "12.34") {
		t.Fatalf("receipt: %d %.300s", status, body)
	}
	if status, body := c.Call(t, http.MethodPost, "/admin/api/cashier/entries/"+out.Entry.ID+"/reverse", "application/json", []byte(`{"reason":"关联错了房屋"}`)); status != 200 {
		t.Fatalf("reverse: %d %s", status, body)
	}
	if status, body := entry(h2.ID, bills2); status != http.StatusCreated {
		t.Fatalf("link after the reversal: %d %s", status, body)
	}
}
