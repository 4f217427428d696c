package stack_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/estatepay/estatepay/infra/local/stack"
	"github.com/estatepay/estatepay/infra/local/stacktest"
	"github.com/estatepay/estatepay/infra/sandbox/outbox"
	"github.com/estatepay/estatepay/shared/domain/invoice"
	"github.com/estatepay/estatepay/shared/domain/order"
	"github.com/estatepay/estatepay/shared/domain/refund"
	"github.com/estatepay/estatepay/shared/events"
	"github.com/estatepay/estatepay/shared/store"
)

// Issue 13's Done-when, e-invoices: a resident who paid a notice requests a
// company invoice and finds its link in the outbox e-mail. The notice is
// paid in WeChat through the sandbox; the receipt offers 申请开票; the form
// is posted as the page posts it (with its token and the payer cookie); the
// table's stream submits it to the platform sandbox at once (no schedule
// fires), which issues it and calls back; the e-mail in GET
// <outbox>/messages holds the PDF link, which the sandbox serves; the
// receipt lists the invoice with its number and link.
func TestInvoiceDoneWhen(t *testing.T) {
	dir := t.TempDir()
	s := stacktest.Start(t, stacktest.Options{StateDir: dir})
	ctx := context.Background()

	var desc stack.Description
	if b, err := os.ReadFile(filepath.Join(dir, "stack.json")); err != nil || json.Unmarshal(b, &desc) != nil || desc.URLs.Einvoice != s.URLs.Einvoice || desc.URLs.Einvoice == "" {
		t.Fatalf("stack.json einvoice_sandbox: %v %q", err, desc.URLs.Einvoice)
	}
	relayFiltersInvoiceQueue(t, s)

	h := stacktest.SeedHouse(t, s, stack.DemoCompanyID, "demo-both", "88", "1", "801", "钱七", 37630, 3000)
	n := stacktest.SeedNotice(t, s, h)
	status, o, raw := stacktest.PayNotice(t, s, n.ID, "wechat", 40630, "oInvoiceResident")
	if status != http.StatusCreated {
		t.Fatalf("pay notice: %d %s", status, raw)
	}
	if err := s.WeChat().Pay(o.OrderID); err != nil {
		t.Fatal(err)
	}
	stacktest.WaitFor(t, "the notice paid", 20*time.Second, func() bool { return stacktest.GetOrder(t, s, o.OrderID).Status == "PAID" })
	col, err := s.Store().LoadCommunity(ctx, "demo-both")
	if err != nil {
		t.Fatal(err)
	}
	cookie := stacktest.PayerCookie(t, s, col, "oInvoiceResident")
	receipt := "/n/" + n.ID + "/orders/" + o.OrderID

	// Someone else (no payer cookie) is not offered the invoice and cannot ask.
	if _, body := stacktest.Send(t, s, http.MethodGet, receipt, "", "", nil); strings.Contains(string(body), "申请开票") {
		t.Error("receipt offers 申请开票 without the payer")
	}
	if status, _ := stacktest.RequestInvoice(t, s, receipt, "", map[string]string{"kind": "personal", "name": "别人", "email": "x@example.com"}); status != http.StatusForbidden {
		t.Errorf("request without the payer: %d", status)
	}

	_, body := stacktest.Send(t, s, http.MethodGet, receipt, "", cookie, nil)
	if !strings.Contains(string(body), `href="`+receipt+`/invoice"`) {
		t.Fatalf("receipt without 申请开票: %.500s", body)
	}
	_, form := stacktest.Send(t, s, http.MethodGet, receipt+"/invoice", "", cookie, nil)
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindSubmatch(form)
	if m == nil {
		t.Fatalf("form without its token: %.500s", form)
	}
	post := func(csrf, taxNo string) (int, []byte) {
		v := "kind=company&name=" + url.QueryEscape("上海某某科技有限公司") + "&taxno=" + taxNo + "&email=" + url.QueryEscape("finance@example.com") + "&csrf=" + url.QueryEscape(csrf)
		return stacktest.Send(t, s, http.MethodPost, receipt+"/invoice", "application/x-www-form-urlencoded", cookie, []byte(v))
	}
	if status, _ := post("forged", "91310000MA1FL0000X"); status != http.StatusForbidden {
		t.Errorf("forged token: %d", status)
	}
	if status, page := post(string(m[1]), "123"); status != http.StatusBadRequest || !strings.Contains(string(page), "请填写正确的税号") {
		t.Errorf("bad tax number: %d %.300s", status, page)
	}
	s.DynamoDB().ResetRequests() // from here, InvoiceFunction's calls are this invoice's
	requested := time.Now()
	if status, _ := post(string(m[1]), "91310000MA1FL0000X"); status != http.StatusSeeOther {
		t.Fatalf("request: %d", status)
	}
	// Retried, and a different title: still the one invoice.
	if status, _ := post(string(m[1]), "91310000MA1FL0000X"); status != http.StatusSeeOther {
		t.Fatalf("retried request: %d", status)
	}
	if status, js := stacktest.RequestInvoice(t, s, receipt, cookie, map[string]string{"kind": "personal", "name": "钱七", "email": "q@example.com"}); status != http.StatusOK || !strings.Contains(string(js), "上海某某科技有限公司") {
		t.Errorf("second, different request: %d %s", status, js)
	}
	list := stacktest.Invoices(t, s, o.OrderID)
	if len(list) != 1 || list[0].TotalFen != 40630 || len(list[0].Lines) != 2 || list[0].Lines[0].TaxFen != 2130 || list[0].Lines[1].Rate != 300 {
		t.Fatalf("stored: %+v", list)
	}

	// No schedule fires (stacktest runs none): InvoicesTable's stream
	// submits the request at once, the sandbox issues it after 300 ms and
	// calls back, and the e-mail goes out — within seconds.
	var mail outbox.Message
	stacktest.WaitFor(t, "the invoice e-mail in the outbox, without the schedule", 10*time.Second, func() bool {
		res, err := http.Get(s.URLs.Outbox + "/messages")
		if err != nil {
			return false
		}
		defer res.Body.Close()
		var msgs []outbox.Message
		if json.NewDecoder(res.Body).Decode(&msgs) != nil {
			return false
		}
		for _, m := range msgs {
			if m.Channel == "email" && m.To == "finance@example.com" {
				mail = m
				return true
			}
		}
		return false
	})
	t.Logf("request → e-mail in the outbox: %s", time.Since(requested).Round(time.Millisecond))
	// What submission, callback and e-mail cost InvoiceFunction (README,
	// E-invoices, Cost): the stream's read, then submitted, issued, e-mail
	// claimed and confirmed — each a GetItem and a conditional PutItem — and
	// no Query (the schedule did not run).
	stacktest.WaitFor(t, "the e-mail confirmed", 10*time.Second, func() bool { return stacktest.Invoices(t, s, o.OrderID)[0].Emailed })
	calls := map[string]int64{}
	for _, c := range s.DynamoDB().Calls() {
		if c.Principal == stack.AccessKeyID("InvoiceFunction") {
			calls[c.Action+" "+c.Table+" "+c.Index] += c.N
		}
	}
	invoices := s.Tables["InvoicesTable"]
	get, put := calls["GetItem "+invoices+" "], calls["PutItem "+invoices+" "]
	callbacks := 0
	for _, i := range s.Einvoice().Invoices() {
		if i.OrderNo == o.OrderID+"-1" {
			callbacks = i.Callbacks
		}
	}
	switch {
	case len(calls) != 2 || get < 5 || put != 4:
		t.Errorf("InvoiceFunction's DynamoDB calls for one invoice: %v, want 5 GetItem and 4 PutItem on %s, nothing else", calls, invoices)
	case callbacks == 1 && get != 5:
		t.Errorf("one callback, %d GetItem, want 5", get)
	case callbacks != 1:
		// A loaded machine: the callback came before the submission was
		// recorded, was refused (500) and came again — one more read each.
		t.Logf("%d callbacks, %d GetItem", callbacks, get)
	}
	link := regexp.MustCompile(`https?://\S+\.pdf`).FindString(mail.Body)
	if link == "" || !strings.HasPrefix(link, s.URLs.Einvoice) || !strings.Contains(mail.Subject, "电子发票") {
		t.Fatalf("e-mail: %+v", mail)
	}
	res, err := http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	pdf, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(string(pdf), "%PDF-") {
		t.Fatalf("the link: %d %.40q", res.StatusCode, pdf)
	}
	inv := stacktest.Invoices(t, s, o.OrderID)[0]
	if inv.Status != invoice.Issued || !strings.Contains(mail.Body, inv.Number) || !strings.Contains(mail.Body, "406.30") {
		t.Errorf("invoice %+v, e-mail %q", inv, mail.Body)
	}
	_, body = stacktest.Send(t, s, http.MethodGet, receipt, "", cookie, nil)
	if !strings.Contains(string(body), inv.Number) || !strings.Contains(string(body), link) || strings.Contains(string(body), `id="invoice-apply"`) {
		t.Errorf("receipt after issue: %.800s", body)
	}
	// Someone else holding the receipt's link sees the state, not the invoice.
	_, other := stacktest.Send(t, s, http.MethodGet, receipt, "", "", nil)
	if !strings.Contains(string(other), "已开票") || strings.Contains(string(other), inv.Number) || strings.Contains(string(other), "上海某某科技有限公司") || strings.Contains(string(other), ".pdf") {
		t.Errorf("receipt without the payer shows the invoice: %.800s", other)
	}
	// A duplicate callback (the sandbox delivers again) sends no second e-mail.
	s.Einvoice().Deliver("")
	req, _ := s.Einvoice().SignedCallback(s.URLs.Gateway+"/notify/einvoice", []byte(`{"serialNo":"`+inv.PlatformSerial+`","orderNo":"`+inv.ID+`","status":"2","allElectronicInvoiceNumber":"`+inv.Number+`","pdfUrl":"`+inv.PDFURL+`","invoiceType":"1"}`), time.Now())
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("replayed callback: %v %v", err, res)
	}
	stale, _ := s.Einvoice().SignedCallback(s.URLs.Gateway+"/notify/einvoice", []byte(`{"orderNo":"`+inv.ID+`","status":"2"}`), time.Now().Add(-10*time.Minute))
	if res, err := http.DefaultClient.Do(stale); err != nil || res.StatusCode != http.StatusUnauthorized {
		t.Errorf("stale callback: %v %v", err, res)
	}
	count := 0
	for _, m := range s.Outbox().Messages() {
		if m.To == "finance@example.com" {
			count++
		}
	}
	if count != 1 {
		t.Errorf("%d invoice e-mails", count)
	}
}

// relayFiltersInvoiceQueue: the stack resolves RelayFunction's
// EVENT_QUEUE_TYPES (!Sub of InvoiceEventsQueue's Ref) to the local queue's
// URL, and it passes the relay's cold-start check against EVENT_QUEUE_URLS:
// InvoiceEventsQueue gets the refund events only.
func relayFiltersInvoiceQueue(t *testing.T, s *stack.Stack) {
	t.Helper()
	for _, f := range s.Resolver().T.Functions() {
		if f.LogicalID != "RelayFunction" {
			continue
		}
		env, err := s.FunctionEnv(f)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		for _, kv := range env {
			k, v, _ := strings.Cut(kv, "=")
			m[k] = v
		}
		qt, err := events.ParseQueueTypes(m["EVENT_QUEUE_TYPES"], strings.Split(m["EVENT_QUEUE_URLS"], ","))
		if err != nil {
			t.Fatalf("RelayFunction's cold start would fail: %v", err)
		}
		inv := qt[s.Queues["InvoiceEventsQueue"]]
		if len(qt) != 1 || len(inv) != 2 || !inv[refund.EventSucceeded] || !inv[order.EventRefunded] {
			t.Fatalf("EVENT_QUEUE_TYPES=%s (InvoiceEventsQueue %s)", m["EVENT_QUEUE_TYPES"], s.Queues["InvoiceEventsQueue"])
		}
		return
	}
	t.Fatal("no RelayFunction")
}

// The JSON API's refusals (README Contracts): an Alipay code payment (no
// payer cookie: the receipt's link is the authorisation) with a wrong
// e-mail, an unpaid order, a refunded one, a company that does not invoice,
// another code's order.
func TestInvoiceRequestRefusals(t *testing.T) {
	s := stacktest.Start(t)
	ctx := context.Background()
	tok := stacktest.CommunityToken(t, s, "demo-both")
	pay := func(fen int64) string {
		o := stacktest.CreateOrder(t, s, tok, "alipay", fen, "")
		if _, err := http.Get(o.Pay.RedirectURL); err != nil {
			t.Fatal(err)
		}
		if err := s.Alipay().Pay(o.OrderID); err != nil {
			t.Fatal(err)
		}
		stacktest.WaitFor(t, "paid", 20*time.Second, func() bool { return stacktest.GetOrder(t, s, o.OrderID).Status == "PAID" })
		return o.OrderID
	}
	code := func(status int, raw []byte) string {
		var e struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		_ = json.Unmarshal(raw, &e)
		return fmt.Sprint(status, " ", e.Error.Code, " ", e.Error.Message)
	}
	company := map[string]string{"kind": "company", "name": "某某科技有限公司", "tax_no": "91110108MA00000001", "email": "a@example.com"}

	paid := pay(1234)
	receipt := "/c/" + tok + "/orders/" + paid
	bad := map[string]string{"kind": "company", "name": "某某科技有限公司", "tax_no": "91110108MA00000001", "email": "not-an-address"}
	if got := code(stacktest.RequestInvoice(t, s, receipt, "", bad)); !strings.HasPrefix(got, "400 invalid") || !strings.Contains(got, "邮箱") {
		t.Errorf("bad e-mail: %s", got)
	}
	if status, raw := stacktest.RequestInvoice(t, s, receipt, "", company); status != http.StatusCreated || !strings.Contains(string(raw), `"total_fen":1234`) || !strings.Contains(string(raw), `"tax_fen":70`) {
		t.Errorf("free amount of a company that allows it: %d %s", status, raw)
	}
	if got := code(stacktest.RequestInvoice(t, s, "/c/"+stacktest.CommunityToken(t, s, "demo-alipay-only")+"/orders/"+paid, "", company)); !strings.HasPrefix(got, "404") {
		t.Errorf("another code's order: %s", got)
	}

	unpaid := stacktest.CreateOrder(t, s, tok, "alipay", 500, "")
	if got := code(stacktest.RequestInvoice(t, s, "/c/"+tok+"/orders/"+unpaid.OrderID, "", company)); !strings.HasPrefix(got, "409 not_offered") {
		t.Errorf("unpaid: %s", got)
	}

	refunded := pay(800)
	if _, err := s.Store().OrderRepo().Update(ctx, refunded, func(o *order.Order) error {
		o.RefundFen, o.Version = 100, o.Version+1
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if got := code(stacktest.RequestInvoice(t, s, "/c/"+tok+"/orders/"+refunded, "", company)); !strings.HasPrefix(got, "409 refunded") {
		t.Errorf("refunded: %s", got)
	}

	// Invoicing for notices only (no free amounts), then off: nothing offered.
	repo := &store.Invoices{DB: s.Store().DB, Table: s.Tables["InvoicesTable"]}
	set, err := repo.InvoiceSettings(ctx, stack.DemoCompanyID)
	if err != nil {
		t.Fatal(err)
	}
	for _, change := range []func(*invoice.Settings){
		func(x *invoice.Settings) { x.AllowFreeAmount = false },
		func(x *invoice.Settings) { x.Enabled = false },
	} {
		change(&set)
		if set, err = repo.PutInvoiceSettings(ctx, set); err != nil {
			t.Fatal(err)
		}
		id := pay(300)
		r := "/c/" + tok + "/orders/" + id
		if _, body := stacktest.Send(t, s, http.MethodGet, r, "", "", nil); strings.Contains(string(body), "申请开票") {
			t.Errorf("申请开票 offered with %+v", set)
		}
		if got := code(stacktest.RequestInvoice(t, s, r, "", company)); !strings.HasPrefix(got, "409 not_offered") {
			t.Errorf("with %+v: %s", set, got)
		}
	}
}
