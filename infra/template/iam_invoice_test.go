package template_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/estatepay/estatepay/infra/local/stack"
	"github.com/estatepay/estatepay/infra/local/stacktest"
	"github.com/estatepay/estatepay/shared/domain/invoice"
)

// invoiceRequestedIssuedAndReversed is the e-invoice flow (issue 13), doing
// what the LandingFunction's and InvoiceFunction's InvoicesTable grants are
// for: a WeChat payer opens the receipt (the settings and the order's
// invoices: GetItem, Query), the form, and asks for a company invoice (the
// ONE conditional PutItem); the schedule submits it (the "due" index,
// GetItem, PutItem), the platform sandbox calls back (issued, e-mailed);
// the admin refunds part of the payment and the refund event reverses the
// invoice (Query, the order's GetItem, PutItem) and re-issues the rest.
func invoiceRequestedIssuedAndReversed(t *testing.T, s *stack.Stack) {
	t.Helper()
	ctx := context.Background()
	tok := stacktest.CommunityToken(t, s, "demo-both")
	col, err := s.Store().LoadCollection(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	o := stacktest.CreateOrder(t, s, tok, "wechat", 1500, "oIAMInvoicePayer")
	if err := s.WeChat().Pay(o.OrderID); err != nil {
		t.Fatal(err)
	}
	stacktest.WaitFor(t, "the payment", 20*time.Second, func() bool { return stacktest.GetOrder(t, s, o.OrderID).Status == "PAID" })
	cookie := stacktest.PayerCookie(t, s, col, "oIAMInvoicePayer")
	receipt := "/c/" + tok + "/orders/" + o.OrderID
	if status, body := stacktest.Send(t, s, http.MethodGet, receipt, "", cookie, nil); status != http.StatusOK || !strings.Contains(string(body), "申请开票") {
		t.Fatalf("receipt: %d %.300s", status, body)
	}
	if status, body := stacktest.Send(t, s, http.MethodGet, receipt+"/invoice", "", cookie, nil); status != http.StatusOK || !strings.Contains(string(body), "发票抬头") {
		t.Fatalf("form: %d %.300s", status, body)
	}
	if status, body := stacktest.RequestInvoice(t, s, receipt, cookie, map[string]string{"kind": "company", "name": "权限测试科技有限公司", "tax_no": "91110108MA00000001", "email": "iam@example.com"}); status != http.StatusCreated {
		t.Fatalf("request: %d %s", status, body)
	}
	if _, err := s.FireSchedule(ctx, "InvoiceFunction.Sweep", ""); err != nil {
		t.Fatal(err)
	}
	stacktest.WaitFor(t, "the invoice issued and e-mailed", 20*time.Second, func() bool {
		l := stacktest.Invoices(t, s, o.OrderID)
		return len(l) == 1 && l[0].Status == invoice.Issued && l[0].Emailed
	})
	c := stacktest.Console(t, s, "admin", stack.DemoCompanyID)
	req, err := http.NewRequest(http.MethodPost, c.Base+"/admin/api/orders/"+o.OrderID+"/refunds", strings.NewReader(`{"amount_fen":500,"reason":"多收了"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", "iam-invoice-refund-0001")
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
	stacktest.WaitFor(t, "the invoice reversed and re-issued for what was kept", 30*time.Second, func() bool {
		l := stacktest.Invoices(t, s, o.OrderID)
		return len(l) == 2 && l[0].Status == invoice.Reversed && l[1].TotalFen == 1000
	})
}
