package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/estatepay/estatepay/infra/local/stacktest"
	"github.com/estatepay/estatepay/shared/bills"
	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/bill"
	"github.com/estatepay/estatepay/shared/domain/house"
	"github.com/estatepay/estatepay/shared/domain/order"
)

var deskNow = time.Date(2026, 11, 29, 2, 0, 0, 0, time.UTC)

// deskFixture adds the cashier desk to the console fixture: in each company
// two houses (3栋2单元1101 and 1102) with two bills each (物业费 120.00,
// 水费 30.50), a second cashier in company A, and a paid code payment of
// 150.50 in community A.
type deskFixture struct {
	*fixture
	houses map[string]house.House // "a1", "a2", "b1", "b2"
	n      int
}

func newDeskFixture(t *testing.T) *deskFixture {
	t.Helper()
	f := &deskFixture{fixture: newFixture(t), houses: map[string]house.House{}}
	ctx := context.Background()
	for _, co := range []string{coA, coB} {
		s := co[len(co)-1:]
		for i, room := range []string{"1101", "1102"} {
			h, err := house.New(house.House{CompanyID: co, CommunityID: "cm-" + s, Building: "3", Unit: "2", Room: room, OwnerName: "业主" + room}, deskNow)
			if err != nil {
				t.Fatal(err)
			}
			if err := f.st.HouseRepo().PutHouse(ctx, h); err != nil {
				t.Fatal(err)
			}
			f.houses[s+string(rune('1'+i))] = h
			for _, b := range []struct {
				fee string
				fen int64
			}{{"物业费", 12000}, {"水费", 3050}} {
				nb, err := bill.New(bill.Bill{ID: h.ID + "-" + b.fee, CompanyID: co, CommunityID: "cm-" + s, HouseID: h.ID, FeeItem: b.fee,
					Period: "2026-11", AmountFen: b.fen, DueDate: "2026-11-30"}, "import:j", deskNow)
				if err != nil {
					t.Fatal(err)
				}
				if err := f.st.BillRepo().Create(ctx, nb); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	f.acc.add("cashier-a2", coA, RoleCashier, "13800000005")
	f.h.Cashier = &bills.Desk{Entries: f.st.CashierRepo(), Houses: f.st.HouseRepo(), Bills: f.st.BillRepo(), Payments: f.st.OrderRepo(),
		NewID: func() string { f.n++; return "ce-" + string(rune('a'+f.n)) }, Now: func() time.Time { return deskNow.Add(time.Hour) }}
	stacktest.SeedOrder(t, f.st, order.Order{ID: "o-code", CommunityID: cmA, CompanyID: coA, CodeToken: codeA, Channel: domain.Alipay, IfaceID: "if-ali-a",
		MerchantID: "m", AppID: "2021a", AmountFen: 15050, RequestHash: "h"}, deskNow, deskNow.Add(time.Minute))
	return f
}

func (f *deskFixture) bills(key string) []string {
	h := f.houses[key]
	return []string{h.ID + "-物业费", h.ID + "-水费"}
}

func (f *deskFixture) entryBody(key, method, orderID string) string {
	b, _ := json.Marshal(map[string]any{"house_id": f.houses[key].ID, "bill_ids": f.bills(key), "method": method, "order_id": orderID, "note": "前台"})
	return string(b)
}

func apiPost(path, body string) rq { return rq{method: http.MethodPost, path: path, json: body} }

type entryResp struct {
	Entry entryJSON `json:"entry"`
}

func decodeEntry(t *testing.T, r string) entryJSON {
	t.Helper()
	var e entryResp
	if err := json.Unmarshal([]byte(r), &e); err != nil {
		t.Fatalf("not an entry: %s", r)
	}
	return e.Entry
}

func TestCashierAPI(t *testing.T) {
	f := newDeskFixture(t)
	ctx := context.Background()
	cashier := f.login("cashier-a")
	audits := f.acc.recordCount()

	// Cash for house a1: 201, its bills paid by the entry, audited.
	r := f.as(cashier, apiPost("/admin/api/cashier/entries", f.entryBody("a1", "cash", "")))
	if r.StatusCode != http.StatusCreated {
		t.Fatalf("mark paid: %d %s", r.StatusCode, r.Body)
	}
	e := decodeEntry(t, r.Body)
	if e.TotalFen != 15050 || e.Total != "150.50" || e.Method != "cash" || e.MethodName != "现金" || e.By != "cashier-a" || e.Status != "ACTIVE" {
		t.Fatalf("entry %+v", e)
	}
	for _, id := range f.bills("a1") {
		if b, _ := f.st.BillRepo().Get(ctx, id); b.Status != bill.Paid || b.PaidBy.EntryID != e.ID {
			t.Fatalf("bill %s: %+v", id, b)
		}
	}
	if f.acc.recordCount() != audits+1 || f.acc.records[audits].action != "cashier.mark_paid" || f.acc.records[audits].id != e.ID {
		t.Fatalf("audit: %+v", f.acc.records[audits:])
	}
	// The same bills again: 409 bill_paid.
	r = f.as(cashier, apiPost("/admin/api/cashier/entries", f.entryBody("a1", "pos", "")))
	if r.StatusCode != http.StatusConflict || errorCode(t, r) != "bill_paid" {
		t.Fatalf("again: %d %s", r.StatusCode, r.Body)
	}
	// Bad requests: no method, a code payment without its order, not JSON.
	for body, code := range map[string]string{
		f.entryBody("a2", "", ""):     "invalid",
		f.entryBody("a2", "code", ""): "invalid",
		`{"house_id":""}`:             "invalid",
	} {
		if r := f.as(cashier, apiPost("/admin/api/cashier/entries", body)); r.StatusCode != 400 || errorCode(t, r) != code {
			t.Errorf("%s: %d %s", body, r.StatusCode, r.Body)
		}
	}

	// The house's entries.
	var list struct {
		Entries []entryJSON `json:"entries"`
	}
	r = f.as(cashier, get("/admin/api/houses/"+f.houses["a1"].ID+"/entries"))
	if json.Unmarshal([]byte(r.Body), &list); r.StatusCode != 200 || len(list.Entries) != 1 || list.Entries[0].ID != e.ID {
		t.Fatalf("house entries: %d %s", r.StatusCode, r.Body)
	}
	r = f.as(cashier, get("/admin/api/cashier/entries/"+e.ID))
	if r.StatusCode != 200 || !strings.Contains(r.Body, `"fee_item":"物业费"`) {
		t.Fatalf("entry: %d %s", r.StatusCode, r.Body)
	}

	// Reversal: another cashier may not reverse it; a reason is required;
	// its cashier may; twice is refused.
	other := f.login("cashier-a2")
	path := "/admin/api/cashier/entries/" + e.ID + "/reverse"
	if r := f.as(other, apiPost(path, `{"reason":"错了"}`)); r.StatusCode != 403 || errorCode(t, r) != "not_own_entry" {
		t.Fatalf("another cashier reverses: %d %s", r.StatusCode, r.Body)
	}
	if r := f.as(cashier, apiPost(path, `{"reason":"  "}`)); r.StatusCode != 400 || errorCode(t, r) != "invalid" {
		t.Fatalf("no reason: %d %s", r.StatusCode, r.Body)
	}
	audits = f.acc.recordCount()
	r = f.as(cashier, apiPost(path, `{"reason":"收错了户"}`))
	if rev := decodeEntry(t, r.Body); r.StatusCode != 200 || rev.Status != "REVERSED" || rev.ReversedWhy != "收错了户" {
		t.Fatalf("reverse: %d %s", r.StatusCode, r.Body)
	}
	if f.acc.recordCount() != audits+1 || f.acc.records[audits].action != "cashier.reverse" || !strings.Contains(f.acc.records[audits].before, `"ACTIVE"`) {
		t.Fatalf("reverse audit: %+v", f.acc.records[audits:])
	}
	for _, id := range f.bills("a1") {
		if b, _ := f.st.BillRepo().Get(ctx, id); b.Status != bill.Unpaid || b.Audit[len(b.Audit)-1].Action != "reopened" {
			t.Fatalf("bill %s after the reversal: %+v", id, b)
		}
	}
	if r := f.as(f.login("admin-a"), apiPost(path, `{"reason":"再冲一次"}`)); r.StatusCode != 409 || errorCode(t, r) != "already_reversed" {
		t.Fatalf("double reverse: %d %s", r.StatusCode, r.Body)
	}
	// An admin reverses a cashier's entry.
	r = f.as(other, apiPost("/admin/api/cashier/entries", f.entryBody("a2", "transfer", "")))
	e2 := decodeEntry(t, r.Body)
	if r := f.as(f.login("admin-a"), apiPost("/admin/api/cashier/entries/"+e2.ID+"/reverse", `{"reason":"转账未到账"}`)); r.StatusCode != 200 {
		t.Fatalf("admin reverses: %d %s", r.StatusCode, r.Body)
	}
}

// The test of issue 8 through the API: linking one payment twice is refused;
// so is a payment of another amount.
func TestCashierAPILinksAPaymentOnce(t *testing.T) {
	f := newDeskFixture(t)
	cashier := f.login("cashier-a")
	r := f.as(cashier, apiPost("/admin/api/cashier/entries", f.entryBody("a1", "code", "o-code")))
	if r.StatusCode != 201 || decodeEntry(t, r.Body).OrderID != "o-code" {
		t.Fatalf("link: %d %s", r.StatusCode, r.Body)
	}
	r = f.as(cashier, apiPost("/admin/api/cashier/entries", f.entryBody("a2", "code", "o-code")))
	if r.StatusCode != 409 || errorCode(t, r) != "already_linked" || !strings.Contains(r.Body, "不能重复关联") {
		t.Fatalf("second link: %d %s", r.StatusCode, r.Body)
	}
	// One bill of a2 only (120.00): the payment is 150.50.
	body, _ := json.Marshal(map[string]any{"house_id": f.houses["a2"].ID, "bill_ids": f.bills("a2")[:1], "method": "code", "order_id": "o-code"})
	stacktest.SeedOrder(t, f.st, order.Order{ID: "o-other", CommunityID: cmA, CompanyID: coA, CodeToken: codeA, Channel: domain.Alipay, IfaceID: "if-ali-a",
		MerchantID: "m", AppID: "2021a", AmountFen: 15050, RequestHash: "h"}, deskNow, deskNow.Add(time.Minute))
	body = []byte(strings.Replace(string(body), "o-code", "o-other", 1))
	r = f.as(cashier, apiPost("/admin/api/cashier/entries", string(body)))
	if r.StatusCode != 409 || errorCode(t, r) != "not_linkable" || !strings.Contains(r.Body, "该收款记录为 150.50 元，所选账单合计 120.00 元") {
		t.Fatalf("amount mismatch: %d %s", r.StatusCode, r.Body)
	}
}

// Roles and tenancy: a manager or risk officer cannot use the desk; another
// company's house, entry or payment is 404, exactly like none.
func TestCashierRolesAndTenancy(t *testing.T) {
	f := newDeskFixture(t)
	a1 := f.houses["a1"].ID
	for _, who := range []string{"manager-a", "risk-a", "op"} {
		s := f.login(who)
		for _, r := range []rq{get("/admin/cashier"), get("/admin/cashier/houses/" + a1), apiPost("/admin/api/cashier/entries", f.entryBody("a1", "cash", "")),
			get("/admin/api/houses/" + a1 + "/entries")} {
			if resp := f.as(s, r); resp.StatusCode != 403 {
				t.Errorf("%s %s %s: %d", who, r.method, r.path, resp.StatusCode)
			}
		}
	}
	if b, _ := f.st.BillRepo().Get(context.Background(), f.bills("a1")[0]); b.Status != bill.Unpaid {
		t.Fatal("a refused role paid a bill")
	}
	// Company A's entry, then company B's admin.
	r := f.as(f.login("cashier-a"), apiPost("/admin/api/cashier/entries", f.entryBody("a1", "cash", "")))
	e := decodeEntry(t, r.Body)
	b := f.login("admin-b")
	for _, r := range []rq{
		get("/admin/cashier/houses/" + a1), get("/admin/cashier/entries/" + e.ID), get("/admin/api/cashier/entries/" + e.ID),
		get("/admin/api/houses/" + a1 + "/entries"), apiPost("/admin/api/cashier/entries/"+e.ID+"/reverse", `{"reason":"x"}`),
		post("/admin/cashier/entries/"+e.ID+"/reverse", "reason", "x"), apiPost("/admin/api/cashier/entries", f.entryBody("a2", "cash", "")),
		post("/admin/cashier/houses/"+f.houses["a2"].ID+"/entries", "bill", f.bills("a2")[0], "method", "cash"),
	} {
		if resp := f.as(b, r); resp.StatusCode != 404 || strings.Contains(resp.Body, "小区A") || strings.Contains(resp.Body, "业主1101") {
			t.Errorf("company B %s %s: %d %.200s", r.method, r.path, resp.StatusCode, resp.Body)
		}
	}
	// B's house with A's payment: the payment is not found for B.
	body, _ := json.Marshal(map[string]any{"house_id": f.houses["b1"].ID, "bill_ids": f.bills("b1"), "method": "code", "order_id": "o-code"})
	if r := f.as(b, apiPost("/admin/api/cashier/entries", string(body))); r.StatusCode != 409 || !strings.Contains(r.Body, "找不到该收款记录") {
		t.Fatalf("another company's payment: %d %s", r.StatusCode, r.Body)
	}
	if b2, _ := f.st.BillRepo().Get(context.Background(), f.bills("a2")[0]); b2.Status != bill.Unpaid {
		t.Fatal("company B paid company A's bill")
	}
}

// The pages: find the house, tick its bills, pay in cash, get the receipt;
// a bill a resident is paying shows 正在支付 and cannot be ticked; a refused
// entry shows why on the house's page.
func TestCashierPages(t *testing.T) {
	f := newDeskFixture(t)
	ctx := context.Background()
	s := f.login("cashier-a")
	r := f.as(s, get("/admin/cashier?community="+cmA+"&building=3&unit=2&room=1102"))
	if r.StatusCode != 200 || !strings.Contains(r.Body, "3栋2单元1102") || strings.Contains(r.Body, "3栋2单元1101") ||
		!strings.Contains(r.Body, "/admin/cashier/houses/"+f.houses["a2"].ID) {
		t.Fatalf("search: %d %s", r.StatusCode, r.Body)
	}
	if r := f.as(s, get("/admin/communities")); !strings.Contains(r.Body, `href="/admin/cashier"`) {
		t.Fatal("no 收银台 in the cashier's navigation")
	}
	a2 := f.houses["a2"].ID
	if _, err := f.st.BillRepo().ReserveAll(ctx, "o-live", f.bills("a2")[1:], deskNow.Add(2*time.Hour), deskNow); err != nil {
		t.Fatal(err)
	}
	r = f.as(s, get("/admin/cashier/houses/"+a2))
	if r.StatusCode != 200 || !strings.Contains(r.Body, "正在支付") || strings.Count(r.Body, `name="bill"`) != 1 || !strings.Contains(r.Body, "o-code") {
		t.Fatalf("house page: %d %s", r.StatusCode, r.Body)
	}
	// Both bills posted (a stale page): refused, shown on the page.
	form := url.Values{"bill": f.bills("a2"), "method": {"cash"}}
	r = f.as(s, rq{method: "POST", path: "/admin/cashier/houses/" + a2 + "/entries", form: form})
	if r.StatusCode != 409 || !strings.Contains(r.Body, "正在支付（住户正在扫码付款）") {
		t.Fatalf("held bill: %d %s", r.StatusCode, r.Body)
	}
	r = f.as(s, rq{method: "POST", path: "/admin/cashier/houses/" + a2 + "/entries", form: url.Values{"bill": f.bills("a2")[:1], "method": {"cash"}, "note": {"收据本 12"}}})
	loc := r.Headers["Location"]
	if r.StatusCode != 302 || !strings.HasPrefix(loc, "/admin/cashier/entries/") {
		t.Fatalf("pay: %d %v %s", r.StatusCode, r.Headers, r.Body)
	}
	r = f.as(s, get(loc))
	for _, want := range []string{"收 据", "物业A", "小区A", "3栋2单元1102", "物业费", "120.00", "现金", "收据本 12", "员工cashier-a", "已收款", "冲正"} {
		if !strings.Contains(r.Body, want) {
			t.Fatalf("receipt lacks %q: %s", want, r.Body)
		}
	}
	// The other cashier sees the receipt but no reverse form.
	if r := f.as(f.login("cashier-a2"), get(loc)); r.StatusCode != 200 || strings.Contains(r.Body, `name="reason"`) {
		t.Fatalf("other cashier's view: %d", r.StatusCode)
	}
	r = f.as(s, get("/admin/cashier/houses/"+a2))
	if !strings.Contains(r.Body, "已缴") || !strings.Contains(r.Body, "收银台 · 现金") {
		t.Fatalf("house after paying: %s", r.Body)
	}
	id := strings.TrimPrefix(strings.SplitN(loc, "?", 2)[0], "/admin/cashier/entries/")
	if r := f.as(s, post("/admin/cashier/entries/"+id+"/reverse", "reason", "")); r.StatusCode != 400 || !strings.Contains(r.Body, "请填写冲正原因") {
		t.Fatalf("reverse without reason: %d %s", r.StatusCode, r.Body)
	}
	if r := f.as(s, post("/admin/cashier/entries/"+id+"/reverse", "reason", "收错了")); r.StatusCode != 302 {
		t.Fatalf("reverse: %d %s", r.StatusCode, r.Body)
	}
	if r := f.as(s, get("/admin/cashier/entries/"+id)); !strings.Contains(r.Body, "已冲正") || !strings.Contains(r.Body, "收错了") {
		t.Fatalf("reversed receipt: %s", r.Body)
	}
	if r := f.as(f.login("admin-a"), get("/admin/audit")); !strings.Contains(r.Body, "收银收款") || !strings.Contains(r.Body, "收银冲正") {
		t.Fatalf("audit log: %s", r.Body)
	}
}
