package template_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/estatepay/estatepay/infra/local/stack"
	"github.com/estatepay/estatepay/infra/local/stacktest"
	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/calendar"
	"github.com/estatepay/estatepay/shared/domain/cashier"
	"github.com/estatepay/estatepay/shared/domain/order"
)

// settleTheDay settles and reconciles today's WeChat payments through the
// SettleFunction as an operator does on demand: one payment's callback is
// lost (the sandbox pays without calling back), so the bill shows a payment
// the order does not: the function reads the companies and interfaces (the
// parent index), the day's payments (the settle index), the orders and
// refunds the bill names, repairs the lost payment (the order's conditional
// Put), and writes its run, statements and exception (StatsTable Get, Put,
// Query). Two lost notice payments are repaired as callbacks confirm them:
// one pays its bills with the order (BillsTable Get, transaction Puts), the
// other's bills the desk took meanwhile, so it is refunded automatically
// (its interface read: DirectoryTable Get).
func settleTheDay(t *testing.T, s *stack.Stack) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	lost := stacktest.CreateOrder(t, s, stacktest.CommunityToken(t, s, "demo-both"), "wechat", 4321, "oIAMSettlePayer")
	if err := s.WeChat().PayWithoutCallback(lost.OrderID); err != nil {
		t.Fatal(err)
	}
	var taken string
	for _, room := range []string{"201", "202"} {
		n := stacktest.SeedNotice(t, s, stacktest.SeedHouse(t, s, stack.DemoCompanyID, "demo-both", "IAMS", "1", room, "", 1000))
		status, o, raw := stacktest.PayNotice(t, s, n.ID, "wechat", 1000, "oIAMSettlePayer")
		if status != http.StatusCreated {
			t.Fatalf("pay notice: %d %s", status, raw)
		}
		if err := s.WeChat().PayWithoutCallback(o.OrderID); err != nil {
			t.Fatal(err)
		}
		taken = o.OrderID
	}
	ids := stacktest.StoredOrder(t, s, taken).BillIDs
	if _, err := s.Store().LedgerRepo().ReleaseAll(ctx, taken, ids, time.Now()); err != nil {
		t.Fatal(err)
	}
	b, err := s.Store().BillRepo().Get(ctx, ids[0])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Store().CashierRepo().Record(ctx, cashier.Entry{ID: "CE-IAM-SETTLE", CompanyID: stack.DemoCompanyID, CommunityID: "demo-both",
		HouseID: b.HouseID, Method: cashier.Cash, By: "staff:demo-cashier"}, ids, time.Now()); err != nil {
		t.Fatal(err)
	}
	day := calendar.BusinessDay(time.Now())
	in, _ := json.Marshal(map[string]string{"day": string(day), "company": stack.DemoCompanyID, "interface": "demo-wechat"})
	out, err := s.FireSchedule(ctx, "SettleFunction.Settle", string(in))
	if err != nil {
		t.Fatalf("settle: %v (%s)", err, out)
	}
	var rep struct {
		Lines []struct {
			Statements []struct {
				Count    int64 `json:"count"`
				GrossFen int64 `json:"gross_fen"`
			} `json:"statements"`
			Exceptions int    `json:"exceptions"`
			Error      string `json:"error"`
		} `json:"lines"`
	}
	if err := json.Unmarshal(out, &rep); err != nil || len(rep.Lines) != 1 || rep.Lines[0].Error != "" || rep.Lines[0].Exceptions < 1 ||
		len(rep.Lines[0].Statements) == 0 || rep.Lines[0].Statements[0].Count == 0 {
		t.Fatalf("settle report %s (%v)", out, err)
	}
	if o := stacktest.GetOrder(t, s, lost.OrderID); o.Status != "PAID" {
		t.Fatalf("the payment whose callback was lost was not repaired: %s", o.Status)
	}
	if o := stacktest.StoredOrder(t, s, taken); !o.BillsRefused || o.RefundFen != 1000 {
		t.Fatalf("the lost notice payment whose bills the desk took: %+v", o)
	}

	// The admin reads the month (AdminFunction: statements and exceptions,
	// StatsTable Query), its CSV, and resolves the exception with a note
	// (Get, conditional Put; audited).
	admin := stacktest.ConsoleAs(t, s, stacktest.DemoAccount(t, s, "admin", stack.DemoCompanyID))
	var month struct {
		Statements []struct {
			Day      string `json:"day"`
			GrossFen int64  `json:"gross_fen"`
		} `json:"statements"`
		Exceptions []struct {
			ID, Day, Kind, Status string
			OrderID               string `json:"order_id"`
		} `json:"exceptions"`
	}
	admin.GetJSON(t, "/admin/api/settlement?month="+string(day)[:7], &month)
	var exID string
	for _, e := range month.Exceptions {
		if e.OrderID == lost.OrderID && e.Kind == "missing_local" && e.Status == "OPEN" {
			exID = e.ID
		}
	}
	if len(month.Statements) == 0 || exID == "" {
		t.Fatalf("console settlement %+v", month)
	}
	if status, body := admin.Call(t, http.MethodGet, "/admin/settlement.csv?month="+string(day)[:7], "", nil); status != http.StatusOK || !strings.Contains(string(body), "结算金额") {
		t.Fatalf("statements CSV: %d %.300s", status, body)
	}
	raw, _ := json.Marshal(map[string]string{"day": string(day), "id": exID, "note": "已核对：回调丢失，系统已补记"})
	if status, body := admin.Call(t, http.MethodPost, "/admin/api/settlement/exceptions/resolve", "application/json", raw); status != http.StatusOK ||
		!strings.Contains(string(body), `"RESOLVED"`) {
		t.Fatalf("resolve: %d %s", status, body)
	}
	if status, body := admin.Call(t, http.MethodPost, "/admin/api/settlement/exceptions/resolve", "application/json", raw); status != http.StatusConflict {
		t.Fatalf("resolving twice: %d %s", status, body)
	}
	if status, body := admin.Call(t, http.MethodGet, "/admin/audit", "", nil); status != http.StatusOK || !strings.Contains(string(body), "处理对账差异") {
		t.Fatalf("the resolution is not in the audit log: %d", status)
	}

	// The admin holds a payment of yesterday, not settled yet (the order's
	// Get; one TransactWriteItems: ConditionCheck of the day's run, the
	// hold's Put), and releases it (Get, conditional Put).
	iface, err := s.Store().GetInterface(ctx, "demo-wechat")
	if err != nil {
		t.Fatal(err)
	}
	paid := time.Now().Add(-24 * time.Hour)
	held := stacktest.SeedOrder(t, s.Store(), order.Order{ID: fmt.Sprintf("EPIAMHOLD%018d", time.Now().UnixNano()%1e18), CommunityID: "demo-both",
		CompanyID: stack.DemoCompanyID, CodeToken: "tok", Channel: domain.WeChat, IfaceID: iface.ID, MerchantID: iface.PaymentMerchant(),
		AppID: iface.PaymentApp(), AmountFen: 1500}, paid.Add(-time.Minute), paid)
	for _, c := range []struct {
		path, body string
		status     int
	}{
		{"/admin/api/settlement/holds", `{"order_id":"` + held.ID + `","reason":"风控复核"}`, http.StatusCreated},
		{"/admin/api/settlement/holds/release", `{"order_id":"` + held.ID + `"}`, http.StatusOK},
	} {
		if status, body := admin.Call(t, http.MethodPost, c.path, "application/json", []byte(c.body)); status != c.status {
			t.Fatalf("%s: %d %s", c.path, status, body)
		}
	}
}
