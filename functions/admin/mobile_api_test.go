package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/calendar"
	"github.com/estatepay/estatepay/shared/domain/managercode"
	"github.com/estatepay/estatepay/shared/domain/order"
	"github.com/estatepay/estatepay/shared/store"
	"github.com/estatepay/estatepay/shared/web"
)

// mapiFixture is the console fixture with the managers' app on an
// injected clock, a second manager of company A and a manager of company B.
type mapiFixture struct {
	*fixture
	now    time.Time
	tokens int
}

func newMapiFixture(t *testing.T) *mapiFixture {
	f := &mapiFixture{fixture: newFixture(t), now: time.Date(2026, 11, 29, 2, 0, 0, 0, time.UTC)}
	f.acc.add("manager-a2", coA, RoleManager, "13800000005")
	f.acc.add("manager-b", coB, RoleManager, "13800000015")
	f.h.Managers = &ManagerApp{Store: f.st, Orders: f.st.OrderRepo(), Refunds: f.h.Refunds, PublicBaseURL: f.h.PublicBaseURL,
		Now: func() time.Time { return f.now },
		NewToken: func() string {
			f.tokens++
			return fmt.Sprintf("tokmobile%017d", f.tokens)
		}}
	return f
}

// api sends an API request as staff id and decodes the JSON answer into v
// (when not nil), returning the response.
func (f *mapiFixture) api(s session, method, path, body string, v any) web.Response {
	f.t.Helper()
	r := rq{method: method, path: path, json: body}
	if method != http.MethodGet {
		r.headers = map[string]string{"X-CSRF-Token": s.csrf}
		if body == "" {
			r.headers["Content-Type"] = ""
		}
	}
	r.cookies = []string{SessionCookie + "=" + s.id}
	resp := f.do(r)
	if v != nil && resp.StatusCode == 200 {
		if err := json.Unmarshal([]byte(resp.Body), v); err != nil {
			f.t.Fatalf("%s %s: %v: %s", method, path, err, resp.Body)
		}
	}
	return resp
}

// The API is the managers' own: no session 401 JSON, company-wide roles
// 403, a state change without the CSRF token 403; the session cookie is
// set for /m too.
func TestMobileAPIAccess(t *testing.T) {
	f := newMapiFixture(t)
	for _, p := range []string{"/m/api/code", "/m/api/codes", "/m/api/records", "/m/api/records/EPX"} {
		r := f.do(get(p))
		if r.StatusCode != 401 || errorCode(t, r) != "unauthorized" {
			t.Errorf("%s without a session: %d %s", p, r.StatusCode, r.Body)
		}
		for _, who := range []string{"admin-a", "cashier-a", "risk-a", "op"} {
			if r := f.api(f.login(who), "GET", p, "", nil); r.StatusCode != 403 || errorCode(t, r) != "forbidden" {
				t.Errorf("%s as %s: %d %s", p, who, r.StatusCode, r.Body)
			}
		}
	}
	m := f.login("manager-a")
	r := f.do(rq{method: "POST", path: "/m/api/code/refresh", cookies: []string{SessionCookie + "=" + m.id}})
	if r.StatusCode != 403 || errorCode(t, r) != "csrf" {
		t.Errorf("refresh without CSRF: %d %s", r.StatusCode, r.Body)
	}
	// Logging in sets the session for the console and the app, nothing else.
	login := f.do(rq{method: "POST", path: "/admin/api/session", json: `{"phone":"13800000003","password":"pw-manager-a"}`})
	var paths []string
	for _, c := range login.Cookies {
		if strings.HasPrefix(c, SessionCookie+"=") {
			for _, attr := range strings.Split(c, "; ") {
				if p, ok := strings.CutPrefix(attr, "Path="); ok {
					paths = append(paths, p)
				}
			}
		}
	}
	if login.StatusCode != 200 || fmt.Sprint(paths) != "[/admin /m]" {
		t.Fatalf("login cookies: %d %v", login.StatusCode, login.Cookies)
	}
	logout := f.as(f.login("manager-a"), rq{method: "DELETE", path: "/admin/api/session"})
	cleared := 0
	for _, c := range logout.Cookies {
		if strings.HasPrefix(c, SessionCookie+"=;") && strings.Contains(c, "Max-Age=0") {
			cleared++
		}
	}
	if cleared != 2 {
		t.Errorf("logout clears %d session cookies: %v", cleared, logout.Cookies)
	}
}

// The default code is issued on first use and stays; a refresh gives a new
// token and says the old one pays until exactly refresh + 3 h (+08:00),
// and the old one's code item says so; the list is re-synced.
func TestMobileCodeAndRefresh(t *testing.T) {
	f := newMapiFixture(t)
	ctx := context.Background()
	m := f.login("manager-a")
	var first MobileCodeAnswer
	if r := f.api(m, "GET", "/m/api/code", "", &first); r.StatusCode != 200 || r.Headers["Cache-Control"] != "no-store" {
		t.Fatalf("code: %d %s", r.StatusCode, r.Body)
	}
	if first.URL != "https://pay.example.com/c/tokmobile00000000000000001" || first.ExpiresAt != nil || first.Code.ID != "default" || first.Code.Kind != "default" ||
		first.Code.Name != "默认收款码" || first.Company != "物业A" || first.Community != "小区A" || !strings.HasPrefix(first.QRSVG, "<svg") {
		t.Fatalf("first code: %+v", first)
	}
	raw := f.api(m, "GET", "/m/api/code", "", nil).Body
	if !strings.Contains(raw, `"expires_at":null`) || !strings.Contains(raw, `"preset":{}`) || !strings.Contains(raw, `"payer_fields":[]`) {
		t.Errorf("JSON shape: %s", raw)
	}
	var again MobileCodeAnswer
	f.api(m, "GET", "/m/api/code", "", &again)
	if again.URL != first.URL {
		t.Fatalf("the code changed without a refresh: %s → %s", first.URL, again.URL)
	}
	col, err := f.st.LoadCollection(ctx, "tokmobile00000000000000001")
	if err != nil || col.Code.OwnerID != "manager-a" || col.Code.Kind != managercode.Kind || col.Community.ID != cmA {
		t.Fatalf("stored code: %+v %v", col.Code, err)
	}

	f.now = f.now.Add(90 * time.Minute)
	var ref MobileCodeAnswer
	if r := f.api(m, "POST", "/m/api/code/refresh", "", &ref); r.StatusCode != 200 {
		t.Fatalf("refresh: %d %s", r.StatusCode, r.Body)
	}
	wantEnd := calendar.Format(f.now.Add(3 * time.Hour))
	if ref.URL == first.URL || ref.ExpiresAt != nil || ref.Previous == nil || ref.Previous.URL != first.URL || ref.Previous.ExpiresAt != wantEnd ||
		!strings.HasSuffix(wantEnd, "+08:00") || len(ref.Codes) != 1 || ref.Codes[0].URL != ref.URL {
		t.Fatalf("refresh answer: %+v (want end %s)", ref, wantEnd)
	}
	old, _ := f.st.LoadCollection(ctx, "tokmobile00000000000000001")
	if !old.Code.Until().Equal(f.now.Add(3*time.Hour)) || !old.Code.Usable(f.now.Add(3*time.Hour-time.Second)) || old.Code.Usable(f.now.Add(3*time.Hour)) {
		t.Fatalf("old token until %v", old.Code.Until())
	}
	var now MobileCodeAnswer
	if f.api(m, "GET", "/m/api/code", "", &now); now.URL != ref.URL {
		t.Fatalf("after the refresh the code is %s, want %s", now.URL, ref.URL)
	}
	// Refreshing an unknown code, a bad body.
	if r := f.api(m, "POST", "/m/api/code/refresh", `{"code":"nope"}`, nil); r.StatusCode != 404 || errorCode(t, r) != "not_found" {
		t.Errorf("unknown code: %d %s", r.StatusCode, r.Body)
	}
	if r := f.api(m, "GET", "/m/api/code?code=nope", "", nil); r.StatusCode != 404 {
		t.Errorf("unknown code: %d %s", r.StatusCode, r.Body)
	}
	if r := f.api(m, "POST", "/m/api/code/refresh", `not json`, nil); r.StatusCode != 400 {
		t.Errorf("bad body: %d %s", r.StatusCode, r.Body)
	}
	// Another manager has their own code.
	var other MobileCodeAnswer
	if f.api(f.login("manager-a2"), "GET", "/m/api/code", "", &other); other.URL == ref.URL || other.URL == "" {
		t.Fatalf("the other manager's code: %+v", other)
	}
	// The audit log has the refresh (no whole token).
	found := false
	for _, r := range f.acc.records {
		if r.action == "code.refresh" && r.by.StaffID == "manager-a" {
			found = true
			if strings.Contains(r.before+r.after, "tokmobile00000000000000001") {
				t.Errorf("the audit keeps a whole token: %s %s", r.before, r.after)
			}
		}
	}
	if !found {
		t.Error("refresh not audited")
	}
}

// Extra codes (切换): listed after the default one, with their presets; the
// code answer names the preset fields; a refresh of the extra code keeps
// its presets and re-syncs the list.
func TestMobileExtraCodes(t *testing.T) {
	f := newMapiFixture(t)
	ctx := context.Background()
	fields := domain.PayerFields{{Key: "company", Label: "公司名称", Type: domain.FieldText, Required: true}, {Key: "contract", Label: "合同编号", Type: domain.FieldNumber}}
	if _, _, err := f.st.UpdateCompany(ctx, coA, func(c *store.Company) error { c.PayerFields = fields; return nil }); err != nil {
		t.Fatal(err)
	}
	m := f.login("manager-a")
	f.api(m, "GET", "/m/api/code", "", nil) // issues the default code
	if _, _, err := f.st.ChangeManagerCodes(ctx, "manager-a", "", func(s *managercode.Set) ([]managercode.Superseded, error) {
		_, err := s.AddExtra("x1", "甲公司", "tokextra0000000000000000001", map[string]string{"company": "甲公司"}, fields, f.now)
		return nil, err
	}); err != nil {
		t.Fatal(err)
	}
	var list struct{ Codes []MobileCode }
	f.api(m, "GET", "/m/api/codes", "", &list)
	if len(list.Codes) != 2 || list.Codes[0].Kind != "default" || list.Codes[1].ID != "x1" || list.Codes[1].Kind != "extra" ||
		list.Codes[1].Preset["company"] != "甲公司" || list.Codes[1].URL != "https://pay.example.com/c/tokextra0000000000000000001" {
		t.Fatalf("codes: %+v", list.Codes)
	}
	var x MobileCodeAnswer
	f.api(m, "GET", "/m/api/code?code=x1", "", &x)
	if x.Code.Name != "甲公司" || len(x.PayerFields) != 2 || x.PayerFields[0].Preset != "甲公司" || x.PayerFields[1].Preset != "" || !x.PayerFields[0].Required {
		t.Fatalf("extra code: %+v", x)
	}
	var ref MobileCodeAnswer
	f.api(m, "POST", "/m/api/code/refresh", `{"code":"x1"}`, &ref)
	if ref.Code.ID != "x1" || ref.Code.Preset["company"] != "甲公司" || ref.Previous.URL != x.URL || len(ref.Codes) != 2 || ref.Codes[1].URL != ref.URL {
		t.Fatalf("extra refresh: %+v", ref)
	}
	// Another manager never sees them.
	var theirs struct{ Codes []MobileCode }
	f.api(f.login("manager-a2"), "GET", "/m/api/codes", "", &theirs)
	if len(theirs.Codes) != 1 || theirs.Codes[0].Kind != "default" {
		t.Fatalf("manager-a2's codes: %+v", theirs.Codes)
	}
}

// seedCollected stores a paid order of collector (in company co) made at created.
func seedCollected(t *testing.T, st *store.Store, id, co, cm, collector string, amount int64, created time.Time, fields map[string]string) order.Order {
	t.Helper()
	o, err := order.New(order.Order{ID: id, CommunityID: cm, CompanyID: co, CodeToken: "tokx", Channel: domain.Alipay, IfaceID: "if-ali-a",
		MerchantID: "2088", AppID: "2021", AmountFen: amount, Description: "t", RequestHash: "h" + id, CollectorID: collector, Fields: fields}, created, 10*time.Minute, 2*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	r := st.OrderRepo()
	if _, err := r.Create(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	paid, err := r.Update(context.Background(), id, func(o *order.Order) error {
		return o.Pay(order.Payment{ProviderTxnID: "T" + id, AmountFen: amount, PaidAt: created.Add(time.Minute), MerchantID: "2088", AppID: "2021"})
	})
	if err != nil {
		t.Fatal(err)
	}
	return paid
}

type recordsAnswer struct {
	Records []MobileRecord `json:"records"`
	Next    *string        `json:"next"`
}

// 收款记录: 15 a page newest first until the end (next null), the cut-off
// date, the keyword; another manager's or company's records never appear,
// nor answer by id.
func TestMobileRecords(t *testing.T) {
	f := newMapiFixture(t)
	ctx := context.Background()
	if _, _, err := f.st.UpdateCompany(ctx, coA, func(c *store.Company) error {
		c.PayerFields = domain.PayerFields{{Key: "company", Label: "公司名称", Type: domain.FieldText}}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	base := time.Date(2026, 10, 1, 2, 0, 0, 0, time.UTC) // 10:00 in Shanghai
	var mine []order.Order
	for i := range 20 {
		mine = append(mine, seedCollected(t, f.st, fmt.Sprintf("EPMOBILE%020d", i), coA, cmA, "manager-a", int64(100+i), base.Add(time.Duration(i)*24*time.Hour),
			map[string]string{"company": fmt.Sprintf("客户%d", i)}))
	}
	seedCollected(t, f.st, "EPMOBILEOTHERMANAGER00000001", coA, cmA, "manager-a2", 105, base, map[string]string{"company": "客户5"})
	seedCollected(t, f.st, "EPMOBILEOTHERCOMPANY00000001", coB, cmB, "manager-a", 105, base, map[string]string{"company": "客户5"})
	m := f.login("manager-a")

	var p1, p2 recordsAnswer
	if r := f.api(m, "GET", "/m/api/records", "", &p1); r.StatusCode != 200 || len(p1.Records) != 15 || p1.Next == nil {
		t.Fatalf("page 1: %d %s", r.StatusCode, r.Body)
	}
	if p1.Records[0].ID != mine[19].ID || p1.Records[14].ID != mine[5].ID {
		t.Fatalf("page 1 order: %s … %s", p1.Records[0].ID, p1.Records[14].ID)
	}
	rec := p1.Records[0]
	if rec.CreatedAt != "2026-10-20T10:00:00+08:00" || rec.AmountFen != 119 || rec.Amount != "1.19" || rec.Channel != "alipay" || rec.Status != "PAID" ||
		rec.StatusText != "已支付" || rec.PayerFields["company"] != "客户19" || rec.RefundedFen != 0 {
		t.Fatalf("record: %+v", rec)
	}
	f.api(m, "GET", "/m/api/records?cursor="+*p1.Next, "", &p2)
	if len(p2.Records) != 5 || p2.Next != nil || p2.Records[4].ID != mine[0].ID {
		t.Fatalf("page 2: %d records, next %v", len(p2.Records), p2.Next)
	}
	raw := f.api(m, "GET", "/m/api/records?cursor="+*p1.Next, "", nil).Body
	if !strings.Contains(raw, `"next":null`) {
		t.Errorf("last page: %s", raw)
	}
	// Cut-off: on or before 2026-10-03 (Shanghai) → the first three, newest first.
	var cut recordsAnswer
	f.api(m, "GET", "/m/api/records?before=2026-10-03", "", &cut)
	if len(cut.Records) != 3 || cut.Records[0].ID != mine[2].ID || cut.Next != nil {
		t.Fatalf("cut-off: %+v", cut)
	}
	// Keywords: a payer field, an amount in yuan, part of the order id.
	for _, tc := range []struct {
		q    string
		want []string
	}{{"客户5", []string{mine[5].ID}}, {"1.07", []string{mine[7].ID}}, {"0000000012", []string{mine[12].ID}}} {
		var a recordsAnswer
		f.api(m, "GET", "/m/api/records?q="+tc.q, "", &a)
		if len(a.Records) != len(tc.want) || a.Records[0].ID != tc.want[0] {
			t.Errorf("q=%s: %+v", tc.q, a.Records)
		}
	}
	for _, bad := range []string{"/m/api/records?before=2026-13-01", "/m/api/records?cursor=garbage"} {
		if r := f.api(m, "GET", bad, "", nil); r.StatusCode != 400 {
			t.Errorf("%s: %d %s", bad, r.StatusCode, r.Body)
		}
	}
	// One record with its labels and refunds.
	var one MobileRecordDetail
	if r := f.api(m, "GET", "/m/api/records/"+mine[3].ID, "", &one); r.StatusCode != 200 {
		t.Fatalf("record: %d %s", r.StatusCode, r.Body)
	}
	if len(one.Fields) != 1 || one.Fields[0].Label != "公司名称" || one.Fields[0].Value != "客户3" || one.Refunds == nil || one.PaidAt != "2026-10-04T10:01:00+08:00" {
		t.Fatalf("record detail: %+v", one)
	}
	// Own scope: the other manager's and the other company's records are not there.
	var theirs recordsAnswer
	f.api(f.login("manager-a2"), "GET", "/m/api/records", "", &theirs)
	if len(theirs.Records) != 1 || theirs.Records[0].ID != "EPMOBILEOTHERMANAGER00000001" {
		t.Fatalf("manager-a2's records: %+v", theirs.Records)
	}
	for _, id := range []string{"EPMOBILEOTHERMANAGER00000001", "EPMOBILEOTHERCOMPANY00000001", "EPNOSUCHORDER"} {
		if r := f.api(m, "GET", "/m/api/records/"+id, "", nil); r.StatusCode != 404 {
			t.Errorf("%s: %d", id, r.StatusCode)
		}
	}
	if r := f.api(f.login("manager-b"), "GET", "/m/api/records", "", &theirs); r.StatusCode != 200 || len(theirs.Records) != 0 {
		t.Errorf("manager-b (company B, same staff id space): %+v", theirs.Records)
	}
	// A cursor of manager-a's walk moves only within manager-a2's own records.
	var walked recordsAnswer
	f.api(f.login("manager-a2"), "GET", "/m/api/records?cursor="+*p1.Next, "", &walked)
	for _, r := range walked.Records {
		if r.ID != "EPMOBILEOTHERMANAGER00000001" {
			t.Errorf("another manager's cursor showed %s", r.ID)
		}
	}
}

// 应收款: the manager finds a house of the company, sees its unpaid bills,
// makes a one-time code for one of them (exactly its amount, the notice's
// pay URL) and reads it back; another manager's code, another company's
// house and a bill of another house are refused.
func TestMobileReceivables(t *testing.T) {
	f := newMapiFixture(t)
	m := f.login("manager-a")
	var houses struct {
		Communities []struct{ ID, Name string }
		Houses      []receivableHouseJSON
		Next        *string
	}
	if r := f.api(m, "GET", "/m/api/receivables/houses", "", &houses); r.StatusCode != 200 || len(houses.Communities) != 1 || houses.Communities[0].ID != cmA || len(houses.Houses) != 0 {
		t.Fatalf("communities: %d %s", r.StatusCode, r.Body)
	}
	f.api(m, "GET", "/m/api/receivables/houses?community="+cmA, "", &houses)
	if len(houses.Houses) != 1 || houses.Houses[0].Label == "" {
		t.Fatalf("houses: %+v", houses)
	}
	if r := f.api(m, "GET", "/m/api/receivables/houses?community="+cmB, "", nil); r.StatusCode != 404 {
		t.Errorf("company B's community: %d", r.StatusCode)
	}
	hid := houses.Houses[0].ID
	var hb struct {
		House receivableHouseJSON
		Bills []receivableBillJSON
	}
	f.api(m, "GET", "/m/api/receivables/houses/"+hid, "", &hb)
	if len(hb.Bills) != 2 || hb.House.ID != hid {
		t.Fatalf("house bills: %+v", hb)
	}
	var bigger receivableBillJSON
	for _, b := range hb.Bills {
		if b.AmountFen > bigger.AmountFen {
			bigger = b
		}
	}
	var made receivableAnswer
	if r := f.api(m, "POST", "/m/api/receivables", `{"house_id":"`+hid+`","bill_ids":["`+bigger.ID+`"]}`, nil); r.StatusCode != 201 {
		t.Fatalf("create: %d %s", r.StatusCode, r.Body)
	} else if err := json.Unmarshal([]byte(r.Body), &made); err != nil {
		t.Fatal(err)
	}
	if made.OpenFen != bigger.AmountFen || made.OpenFen != 30000 || !strings.HasPrefix(made.URL, "https://pay.example.com/n/") || !strings.HasPrefix(made.QRSVG, "<svg") ||
		len(made.Items) != 1 || made.Settled {
		t.Fatalf("receivable: %+v", made)
	}
	n, err := f.st.HouseRepo().GetNotice(context.Background(), made.ID)
	if err != nil || n.CollectorID != "manager-a" {
		t.Fatalf("stored: %+v %v", n, err)
	}
	var again receivableAnswer
	if f.api(m, "GET", "/m/api/receivables/"+made.ID, "", &again); again.ID != made.ID || again.OpenFen != 30000 {
		t.Fatalf("read back: %+v", again)
	}
	for _, tc := range []struct {
		who, method, path, body string
		status                  int
	}{
		{"manager-a2", "GET", "/m/api/receivables/" + made.ID, "", 404},
		{"manager-a", "GET", "/m/api/receivables/" + noticeA, "", 404}, // a notice an admin made
		{"manager-a", "GET", "/m/api/receivables/houses/nope", "", 404},
		{"manager-a", "POST", "/m/api/receivables", `{"house_id":"nope","bill_ids":["x"]}`, 404},
		{"manager-a", "POST", "/m/api/receivables", `{"house_id":"` + hid + `","bill_ids":["not-this-house"]}`, 400},
		{"manager-a", "POST", "/m/api/receivables", `{"house_id":"` + hid + `","bill_ids":[]}`, 400},
		{"manager-b", "GET", "/m/api/receivables/houses/" + hid, "", 404},
		{"admin-a", "GET", "/m/api/receivables/houses", "", 403},
	} {
		if r := f.api(f.login(tc.who), tc.method, tc.path, tc.body, nil); r.StatusCode != tc.status {
			t.Errorf("%s %s %s as %s: %d, want %d (%s)", tc.method, tc.path, tc.body, tc.who, r.StatusCode, tc.status, r.Body)
		}
	}
}
