package template_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/estatepay/estatepay/infra/local/stack"
	"github.com/estatepay/estatepay/infra/local/stacktest"
	"github.com/estatepay/estatepay/shared/domain/invoice"
	"github.com/estatepay/estatepay/shared/store"
)

// invoiceRequestedIssuedAndReversed is the e-invoice flow (issue 13), doing
// what the LandingFunction's and InvoiceFunction's InvoicesTable grants are
// for: a WeChat payer opens the receipt (the settings and the order's
// invoices: GetItem, Query), the form, and asks for a company invoice (the
// ONE conditional PutItem); InvoicesTable's stream submits it at once
// (GetItem, PutItem; the mapping reads the stream with InvoiceFunction's
// stream grants), the platform sandbox calls back (issued, e-mailed);
// the admin refunds part of the payment and the refund event reverses the
// invoice (Query, the order's GetItem, PutItem) and re-issues the rest,
// which the stream submits; the schedule then finds nothing due (the "due"
// index).
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
	// Submitted from InvoicesTable's stream (no schedule fires here): the
	// mapping reads with InvoiceFunction's stream grants.
	stacktest.WaitFor(t, "the invoice issued and e-mailed", 20*time.Second, func() bool {
		l := stacktest.Invoices(t, s, o.OrderID)
		return len(l) == 1 && l[0].Status == invoice.Issued && l[0].Emailed
	})
	c := stacktest.Console(t, s, "admin", stack.DemoCompanyID)
	// 开票设置 as an admin sees and saves it (the settings' GetItem and
	// versioned PutItem), and the payment's page with its invoice (Query).
	if status, body := c.Call(t, http.MethodGet, "/admin/invoicing", "", nil); status != http.StatusOK || !strings.Contains(string(body), "物业管理服务") {
		t.Fatalf("开票设置: %d %.300s", status, body)
	}
	set, err := (&store.Invoices{DB: s.Store().DB, Table: s.Tables["InvoicesTable"]}).InvoiceSettings(ctx, stack.DemoCompanyID)
	if err != nil {
		t.Fatal(err)
	}
	form := url.Values{"enabled": {"1"}, "free": {"1"}, "seller_name": {set.SellerName}, "seller_tax_no": {set.SellerTaxNo}, "version": {fmt.Sprint(set.Version)},
		"default_name": {set.Default.Name}, "default_code": {set.Default.TaxCode}, "default_rate": {fmt.Sprint(int64(set.Default.Rate))}}
	for i, it := range set.Items {
		p := fmt.Sprintf("item_%d_", i)
		form.Set(p+"fee", it.FeeItem)
		form.Set(p+"name", it.Name)
		form.Set(p+"code", it.TaxCode)
		form.Set(p+"rate", fmt.Sprint(int64(it.Rate)))
	}
	if status, body := c.Call(t, http.MethodPost, "/admin/invoicing", "application/x-www-form-urlencoded", []byte(form.Encode())); status != http.StatusSeeOther {
		t.Fatalf("save 开票设置: %d %.300s", status, body)
	}
	if status, body := c.Call(t, http.MethodGet, "/admin/orders/"+o.OrderID, "", nil); status != http.StatusOK || !strings.Contains(string(body), "权限测试科技有限公司") {
		t.Fatalf("payment page: %d %.300s", status, body)
	}
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
	var api struct {
		Invoices []struct {
			ID, Status, Replaces string
			TotalFen             int64 `json:"total_fen"`
		} `json:"invoices"`
	}
	c.GetJSON(t, "/admin/api/orders/"+o.OrderID, &api)
	if len(api.Invoices) != 2 || api.Invoices[0].Status != "REVERSED" || api.Invoices[1].TotalFen != 1000 || api.Invoices[1].Replaces != o.OrderID+"-1" {
		t.Fatalf("the payment's API: %+v", api)
	}
	// The re-issue went out from the stream too; the schedule, the safety
	// net, finds nothing due (its "due" index Query).
	stacktest.WaitFor(t, "the re-issue submitted from the stream", 20*time.Second, func() bool {
		l := stacktest.Invoices(t, s, o.OrderID)
		return len(l) == 2 && l[1].Status != invoice.Requested
	})
	out, err := s.FireSchedule(ctx, "InvoiceFunction.Sweep", "")
	if err != nil || !strings.Contains(string(out), `"handled":0`) {
		t.Fatalf("the schedule after the stream: %s %v", out, err)
	}
}
