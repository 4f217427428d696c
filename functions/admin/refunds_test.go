package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/estatepay/estatepay/infra/local/stacktest"
	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/bill"
	"github.com/estatepay/estatepay/shared/domain/order"
	"github.com/estatepay/estatepay/shared/domain/refund"
	"github.com/estatepay/estatepay/shared/pay"
	"github.com/estatepay/estatepay/shared/payments"
	"github.com/estatepay/estatepay/shared/store"
)

var refundT0 = time.Date(2026, 11, 28, 2, 0, 0, 0, time.UTC)

// seedPayment stores a paid Alipay payment of company A's community
// (interface if-ali-a) of fen, with payer fields.
func seedPayment(t *testing.T, f *fixture, id string, fen int64, fields map[string]string) order.Order {
	t.Helper()
	return stacktest.SeedOrder(t, f.st, order.Order{ID: id, CommunityID: cmA, CompanyID: coA, CodeToken: codeA, Channel: domain.Alipay,
		IfaceID: "if-ali-a", MerchantID: "2088", AppID: "2021a", AmountFen: fen, Fields: fields}, refundT0, refundT0.Add(time.Minute))
}

// seedNoticePayment stores a paid notice payment of two bills of a house of
// company A, the bills paid by it.
func seedNoticePayment(t *testing.T, f *fixture, id string) (order.Order, []string) {
	t.Helper()
	h, ids := stacktest.SeedHouseBills(t, f.st, coA, cmA, "5", "1", "301", 12000, 3000)
	o := stacktest.SeedOrder(t, f.st, order.Order{ID: id, CommunityID: cmA, CompanyID: coA, CodeToken: codeA, Channel: domain.Alipay,
		IfaceID: "if-ali-a", MerchantID: "2088", AppID: "2021a", AmountFen: 15000, NoticeID: "ntc-1", HouseID: h.ID, BillIDs: ids}, refundT0, refundT0.Add(time.Minute))
	if _, err := f.st.BillRepo().PayAll(context.Background(), id, ids, refundT0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	return o, ids
}

// refundsProvider answers every refund SUCCESS (the sandbox's default).
type refundsProvider struct{ pay.Provider }

func (refundsProvider) Refund(_ context.Context, r pay.RefundRequest) (pay.RefundResult, error) {
	return pay.RefundResult{ProviderRefundID: "P" + r.RefundID, State: pay.RefundSuccess, AmountFen: r.AmountFen}, nil
}

type refundsProviders struct{}

func (refundsProviders) Provider(context.Context, store.Interface) (pay.Provider, error) {
	return refundsProvider{}, nil
}

// sweep submits refund id to the provider as the sweeper does.
func sweep(t *testing.T, f *fixture, id string) refund.Refund {
	t.Helper()
	svc := &payments.Service{Orders: f.st.OrderRepo(), Billing: f.st.LedgerRepo(), Directory: f.st, Providers: refundsProviders{},
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: time.Now}
	rf, err := svc.CheckRefund(context.Background(), id)
	if err != nil || rf.Status != refund.Succeeded {
		t.Fatalf("sweep refund %s: %+v %v", id, rf, err)
	}
	return rf
}

func refundCall(f *fixture, s session, orderID, key, body string) (int, string, string, RefundJSON) {
	f.t.Helper()
	r := rq{method: http.MethodPost, path: "/admin/api/orders/" + orderID + "/refunds", json: body, headers: map[string]string{}}
	if key != "" {
		r.headers["Idempotency-Key"] = key
	}
	resp := f.as(s, r)
	var out struct {
		Refund RefundJSON `json:"refund"`
		Error  struct{ Code, Message string }
	}
	_ = json.Unmarshal([]byte(resp.Body), &out)
	return resp.StatusCode, out.Error.Code, out.Error.Message, out.Refund
}

func TestRefundAPI(t *testing.T) {
	f := newFixture(t)
	o := seedPayment(t, f, "EPREFUNDAPIQQQQQQQQQQQQQQQ1", 10000, nil)
	admin := f.login("admin-a")
	path := "/admin/api/orders/" + o.ID

	r := f.as(admin, get(path))
	var got OrderJSON
	if r.StatusCode != 200 || json.Unmarshal([]byte(r.Body), &got) != nil {
		t.Fatalf("GET order: %d %s", r.StatusCode, r.Body)
	}
	if got.OrderID != o.ID || got.Community != "小区A" || got.Channel != "alipay" || got.AmountFen != 10000 || got.Status != "PAID" ||
		got.RefundableFen != 10000 || got.ProviderTxnID != "TXN"+o.ID || got.PaidAt != "2026-11-28T10:01:00+08:00" || len(got.Refunds) != 0 || got.BillIDs == nil {
		t.Fatalf("order: %+v", got)
	}

	// A partial refund, then its retry (same key): one refund, audited once.
	audits := f.acc.recordCount()
	st, code, msg, rf := refundCall(f, admin, o.ID, "key-aaaaaaaaaaaaaaaa1", `{"amount_fen":3000,"reason":"多收了"}`)
	if st != 201 || rf.Status != "REQUESTED" || rf.AmountFen != 3000 || rf.By != "staff:admin-a" || rf.Reason != "多收了" {
		t.Fatalf("refund: %d %s %s %+v", st, code, msg, rf)
	}
	st, _, _, again := refundCall(f, admin, o.ID, "key-aaaaaaaaaaaaaaaa1", `{"amount_fen":3000,"reason":"多收了"}`)
	if st != 201 || again.ID != rf.ID {
		t.Fatalf("retry: %d %+v, want %s", st, again, rf.ID)
	}
	if n := f.acc.recordCount(); n != audits+1 {
		t.Fatalf("audit entries: %d new, want 1", n-audits)
	}
	rec := f.acc.records[len(f.acc.records)-1]
	if rec.action != "refund.request" || rec.kind != "order" || rec.id != o.ID || rec.by.StaffID != "admin-a" ||
		!strings.Contains(rec.after, rf.ID) || !strings.Contains(rec.before, `"refundable_fen":10000`) {
		t.Fatalf("audit entry: %+v", rec)
	}
	if st, code, _, _ := refundCall(f, admin, o.ID, "key-aaaaaaaaaaaaaaaa1", `{"amount_fen":100,"reason":"多收了"}`); st != 409 || code != "idempotency_conflict" {
		t.Fatalf("key reused for another amount: %d %s", st, code)
	}

	// Past what is left: refused, with the amount that is left.
	st, code, msg, _ = refundCall(f, admin, o.ID, "key-aaaaaaaaaaaaaaaa2", `{"amount_fen":7001,"reason":"再退"}`)
	if st != 409 || code != "refund_exceeds" || !strings.Contains(msg, "超过可退金额 70.00 元") {
		t.Fatalf("over-refund: %d %s %s", st, code, msg)
	}
	// Two more partial refunds: the second would sum past the payment.
	if st, code, msg, _ := refundCall(f, admin, o.ID, "key-aaaaaaaaaaaaaaaa3", `{"amount_fen":5000,"reason":"再退"}`); st != 201 {
		t.Fatalf("second refund: %d %s %s", st, code, msg)
	}
	st, code, msg, _ = refundCall(f, admin, o.ID, "key-aaaaaaaaaaaaaaaa4", `{"amount_fen":2001,"reason":"又退"}`)
	if st != 409 || code != "refund_exceeds" || !strings.Contains(msg, "超过可退金额 20.00 元") {
		t.Fatalf("refunds summing past the payment: %d %s %s", st, code, msg)
	}

	// Input errors.
	for _, c := range []struct{ key, body, code, msg string }{
		{"", `{"amount_fen":100,"reason":"x"}`, "invalid", "Idempotency-Key"},
		{"short", `{"amount_fen":100,"reason":"x"}`, "invalid", "Idempotency-Key"},
		{"key-aaaaaaaaaaaaaaaa5", `{"amount_fen":0,"reason":"x"}`, "invalid", "退款金额必须大于 0"},
		{"key-aaaaaaaaaaaaaaaa6", `{"amount_fen":100,"reason":"  "}`, "invalid", "请填写退款原因"},
		{"key-aaaaaaaaaaaaaaaa7", `{"amount_fen":100,"reason":"x","reopen_bill_ids":["bill-x"]}`, "invalid", "不是这笔付款缴的"},
		{"key-aaaaaaaaaaaaaaaa8", `amount=1`, "invalid", "JSON"},
	} {
		if st, code, msg, _ := refundCall(f, admin, o.ID, c.key, c.body); st != 400 || code != c.code || !strings.Contains(msg, c.msg) {
			t.Errorf("%s %s: %d %s %s", c.key, c.body, st, code, msg)
		}
	}

	// The sweeper submits the first; the order counts it.
	sweep(t, f, rf.ID)
	r = f.as(admin, get(path))
	got = OrderJSON{}
	if json.Unmarshal([]byte(r.Body), &got) != nil || got.RefundFen != 8000 || got.RefundedFen != 3000 || got.RefundableFen != 2000 || len(got.Refunds) != 2 ||
		got.Refunds[0].ID != rf.ID || got.Refunds[0].Status != "SUCCEEDED" || got.Refunds[0].SucceededAt == "" || got.Refunds[1].Status != "REQUESTED" {
		t.Fatalf("after the sweep: %s", r.Body)
	}
	// The rest, then nothing is left: a fully refunded payment refunds no more.
	_, _, _, rest := refundCall(f, admin, o.ID, "key-aaaaaaaaaaaaaaaa9", `{"amount_fen":2000,"reason":"余款"}`)
	o2, _ := f.st.OrderRepo().Get(context.Background(), o.ID)
	sweep(t, f, got.Refunds[1].ID)
	sweep(t, f, rest.ID)
	if o2, _ = f.st.OrderRepo().Get(context.Background(), o.ID); o2.Status != order.Refunded || o2.RefundedFen != 10000 {
		t.Fatalf("fully refunded: %+v", o2)
	}
	if st, code, _, _ := refundCall(f, admin, o.ID, "key-aaaaaaaaaaaaaaa10", `{"amount_fen":1,"reason":"x"}`); st != 409 || code != "not_refundable" {
		t.Fatalf("a refunded payment: %d %s", st, code)
	}
}

func TestRefundRolesAndTenancy(t *testing.T) {
	f := newFixture(t)
	o := seedPayment(t, f, "EPREFUNDROLESQQQQQQQQQQQQQ1", 10000, nil)
	body := `{"amount_fen":100,"reason":"x"}`
	for _, id := range []string{"cashier-a", "manager-a", "risk-a"} {
		if st, code, _, _ := refundCall(f, f.login(id), o.ID, "key-roles-aaaaaaaaaaa", body); st != 403 || code != "forbidden" {
			t.Errorf("%s refunds: %d %s", id, st, code)
		}
		if r := f.as(f.login(id), post("/admin/orders/"+o.ID+"/refunds", "amount", "1", "reason", "x", "key", "key-roles-aaaaaaaaaaa")); r.StatusCode != 403 {
			t.Errorf("%s refunds through the page: %d", id, r.StatusCode)
		}
	}
	// Who reads the records sees the payment, without the form.
	cashier := f.login("cashier-a")
	if r := f.as(cashier, get("/admin/api/orders/"+o.ID)); r.StatusCode != 200 {
		t.Errorf("cashier reads the payment: %d", r.StatusCode)
	}
	if r := f.as(cashier, get("/admin/orders/"+o.ID)); r.StatusCode != 200 || strings.Contains(r.Body, "refund-form") || !strings.Contains(r.Body, o.ID) {
		t.Errorf("cashier's page: %d (form shown: %v)", r.StatusCode, strings.Contains(r.Body, "refund-form"))
	}
	if r := f.as(f.login("manager-a"), get("/admin/api/orders/"+o.ID)); r.StatusCode != 403 {
		t.Errorf("manager reads a company payment: %d", r.StatusCode)
	}
	// Another company's admin: 404, as for an unknown id or a refund's id.
	other := f.login("admin-b")
	for _, p := range []string{"/admin/api/orders/" + o.ID, "/admin/orders/" + o.ID} {
		if r := f.as(other, get(p)); r.StatusCode != 404 {
			t.Errorf("another company GET %s: %d", p, r.StatusCode)
		}
	}
	if st, code, _, _ := refundCall(f, other, o.ID, "key-other-aaaaaaaaaaa", body); st != 404 || code != "not_found" {
		t.Errorf("another company refunds: %d %s", st, code)
	}
	admin := f.login("admin-a")
	for _, id := range []string{"EPNOSUCHORDERQQQQQQQQQQQQQ1", refund.ID(o.ID, "k"), "a%2Fb"} {
		if r := f.as(admin, get("/admin/api/orders/"+id)); r.StatusCode != 404 {
			t.Errorf("GET %s: %d", id, r.StatusCode)
		}
	}
	if o2, _ := f.st.OrderRepo().Get(context.Background(), o.ID); o2.RefundFen != 0 || len(o2.RefundIDs) != 0 {
		t.Fatalf("refused requests changed the order: %+v", o2)
	}
	// The CSRF token is required.
	r := f.do(rq{method: http.MethodPost, path: "/admin/api/orders/" + o.ID + "/refunds", json: body, cookies: []string{SessionCookie + "=" + admin.id},
		headers: map[string]string{"Idempotency-Key": "key-csrf-aaaaaaaaaaaa"}})
	if r.StatusCode != 403 || errorCode(t, r) != "csrf" {
		t.Errorf("without CSRF: %d %s", r.StatusCode, r.Body)
	}
}

var hiddenKey = regexp.MustCompile(`name="key" value="([A-Za-z0-9_-]{16,64})"`)

func TestRefundPage(t *testing.T) {
	f := newFixture(t)
	o, bills := seedNoticePayment(t, f, "EPREFUNDPAGEQQQQQQQQQQQQQQ1")
	admin := f.login("admin-a")
	page := "/admin/orders/" + o.ID

	r := f.as(admin, get(page))
	if r.StatusCode != 200 {
		t.Fatalf("page: %d %s", r.StatusCode, r.Body)
	}
	for _, want := range []string{"150.00", "已支付", "小区A", "5栋1单元301", "所缴账单", "费用1", "由这笔付款缴清", `id="refund-form"`, "没有退款",
		`name="reopen" value="` + bills[0] + `"`, `name="reopen" value="` + bills[1] + `"`, `name="csrf"`} {
		if !strings.Contains(r.Body, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	m := hiddenKey.FindStringSubmatch(r.Body)
	if m == nil {
		t.Fatalf("no idempotency key in the form")
	}
	if again := hiddenKey.FindStringSubmatch(f.as(admin, get(page)).Body); again == nil || again[1] == m[1] {
		t.Errorf("the key is not new per render: %v", again)
	}

	// Refused: a bad amount, too much; the page again with the message and what was entered.
	form := func(amount, reason, key string, reopen ...string) rq {
		req := post(page+"/refunds", "amount", amount, "reason", reason, "key", key)
		req.form["reopen"] = reopen
		return req
	}
	r = f.as(admin, form("12,5", "退一半", m[1], bills[0]))
	if r.StatusCode != 400 || !strings.Contains(r.Body, "退款金额格式不正确") || !strings.Contains(r.Body, `value="退一半"`) ||
		!strings.Contains(r.Body, `value="`+bills[0]+`" checked`) {
		t.Fatalf("bad amount: %d %s", r.StatusCode, r.Body)
	}
	r = f.as(admin, form("150.01", "退多了", m[1]))
	if r.StatusCode != 409 || !strings.Contains(r.Body, "退款金额 150.01 元超过可退金额 150.00 元") {
		t.Fatalf("too much: %d %s", r.StatusCode, r.Body)
	}
	// Reason with markup: escaped wherever it shows.
	r = f.as(admin, form("120", `<b>水费</b>多收`, m[1], bills[0]))
	if r.StatusCode != 302 || !strings.HasPrefix(r.Headers["Location"], page+"?done=refund") {
		t.Fatalf("refund: %d %v %s", r.StatusCode, r.Headers, r.Body)
	}
	if r2 := f.as(admin, form("120", `<b>水费</b>多收`, m[1], bills[0])); r2.StatusCode != 302 { // pressed twice: the same refund
		t.Fatalf("posted twice: %d %s", r2.StatusCode, r2.Body)
	}
	o2, _ := f.st.OrderRepo().Get(context.Background(), o.ID)
	if len(o2.RefundIDs) != 1 || o2.RefundFen != 12000 {
		t.Fatalf("after posting twice: %+v", o2)
	}
	r = f.as(admin, get(page+"?done=refund"))
	for _, want := range []string{"退款已申请", "申请中", "120.00", "&lt;b&gt;水费&lt;/b&gt;多收", "员工admin-a", "恢复 1 项账单", "可退金额</dt><dd><span id=\"refundable\">30.00"} {
		if !strings.Contains(r.Body, want) {
			t.Errorf("after the refund the page lacks %q", want)
		}
	}
	if strings.Contains(r.Body, "<b>水费") {
		t.Error("the reason is not escaped")
	}

	// The sweeper: 已退款, the amount counted, the chosen bill open again.
	sweep(t, f, o2.RefundIDs[0])
	r = f.as(admin, get(page))
	for _, want := range []string{"已退款", "部分退款", `<span id="refunded">120.00</span>`} {
		if !strings.Contains(r.Body, want) {
			t.Errorf("after the sweep the page lacks %q", want)
		}
	}
	if b0, _ := f.st.BillRepo().Get(context.Background(), bills[0]); b0.Status != bill.Unpaid {
		t.Errorf("bill to reopen: %s", b0.Status)
	}
	if b1, _ := f.st.BillRepo().Get(context.Background(), bills[1]); b1.Status != bill.Paid {
		t.Errorf("bill kept: %s", b1.Status)
	}

	// The records: the refunded amount, the link; the CSV's column.
	r = f.as(admin, get("/admin/communities/"+cmA+"/records"))
	if !strings.Contains(r.Body, `href="/admin/orders/`+o.ID+`"`) || !strings.Contains(r.Body, "已退款金额（元）") || !strings.Contains(r.Body, `<td class="num">120.00</td>`) {
		t.Errorf("records page: %s", r.Body)
	}
	r = f.as(admin, get("/admin/api/communities/"+cmA+"/payments.csv"))
	rows := readCSV(t, []byte(r.Body))
	if rows[0][10] != "已退款金额（元）" || rows[0][11] != "退款说明" || len(rows) != 2 || rows[1][10] != "120.00" || rows[1][11] != "部分退款" {
		t.Errorf("CSV: %q", rows)
	}
}

// A notice payment whose bills someone else paid was refunded automatically:
// the page and the records say so.
func TestRefundPageAutomatic(t *testing.T) {
	f := newFixture(t)
	o := seedPayment(t, f, "EPREFUNDAUTOQQQQQQQQQQQQQQ1", 5000, map[string]string{"room": `<i>3-201</i>`})
	ctx := context.Background()
	if _, err := f.st.OrderRepo().Update(ctx, o.ID, func(x *order.Order) error { x.BillsRefused, x.Version = true, x.Version+1; return nil }); err != nil {
		t.Fatal(err)
	}
	rf, err := f.h.Refunds.RequestRefund(ctx, payments.RefundRequest{CompanyID: coA, OrderID: o.ID, AmountFen: 5000, Reason: refund.AutoReason, By: "auto", Key: "auto-aaaaaaaaaaaaaaaaaa"})
	if err != nil {
		t.Fatal(err)
	}
	admin := f.login("admin-a")
	r := f.as(admin, get("/admin/orders/"+o.ID))
	for _, want := range []string{`id="bills-refused"`, "自动退款：账单已由他人缴清", "自动退款中", "申请中", "系统", "&lt;i&gt;3-201&lt;/i&gt;"} {
		if !strings.Contains(r.Body, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if strings.Contains(r.Body, "refund-form") || strings.Contains(r.Body, "<i>3-201") {
		t.Error("a fully claimed payment offers the form, or the payer field is not escaped")
	}
	sweep(t, f, rf.ID)
	r = f.as(admin, get("/admin/communities/"+cmA+"/records"))
	if !strings.Contains(r.Body, "已退款（自动）") || !strings.Contains(r.Body, "自动退款：账单已由他人缴清") || !strings.Contains(r.Body, `<td class="num">50.00</td>`) {
		t.Errorf("records page: %s", r.Body)
	}
	var pg RecordsPageJSON
	f.as(admin, get("/admin/api/communities/"+cmA+"/payments"))
	if err := json.Unmarshal([]byte(f.as(admin, get("/admin/api/communities/"+cmA+"/payments")).Body), &pg); err != nil || len(pg.Payments) != 1 ||
		!pg.Payments[0].BillsRefused || pg.Payments[0].RefundedFen != 5000 || pg.Payments[0].Status != order.Refunded {
		t.Errorf("records JSON: %+v %v", pg, err)
	}
}
