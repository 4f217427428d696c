package template_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/estatepay/estatepay/infra/local/stack"
	"github.com/estatepay/estatepay/infra/local/stacktest"
	"github.com/estatepay/estatepay/shared/domain/calendar"
	"github.com/estatepay/estatepay/shared/domain/order"
	"github.com/estatepay/estatepay/shared/store"
)

// grant is one dynamodb action a policy allows on one resource (a table or
// index ARN, possibly with IAM wildcards).
type grant struct{ function, action, resource string }

// TestPoliciesMatchWhatFunctionsDo drives every function through its real
// work on the local stack — both channels paid end to end (and counted into
// the dashboard's aggregates), the receipt, the health check, a due order
// swept, the console as its staff use it (consoleAsItsStaffUseIt) — with each function
// signing as itself, then holds the template to what the embedded DynamoDB
// saw: every call a function made is allowed by its own policy (a deployed
// function would otherwise fail with AccessDenied: e.g. a conditional PutItem
// where the policy grants UpdateItem), and every dynamodb grant was used (no
// permission nobody needs).
func TestPoliciesMatchWhatFunctionsDo(t *testing.T) {
	tm := loadProduct(t)
	s := stacktest.Start(t)
	ctx := context.Background()
	s.DynamoDB().ResetRequests() // the stack's own seeding is not a function's

	// Both channels, end to end: landing, order, provider callback, status, receipt.
	for _, ch := range []string{"alipay", "wechat"} {
		tok := stacktest.CommunityToken(t, s, "demo-both")
		ua := map[string]string{"alipay": "Mozilla/5.0 (iPhone) AlipayClient/10.5.36", "wechat": "Mozilla/5.0 (iPhone) MicroMessenger/8.0.50"}[ch]
		get(t, s.URLs.Gateway+"/c/"+tok, ua)
		o := stacktest.CreateOrder(t, s, tok, ch, 1234, map[string]string{"wechat": "oIAMTestPayer"}[ch])
		var err error
		if ch == "alipay" {
			get(t, o.Pay.RedirectURL, ua) // the browser opens the cashier: the trade exists at Alipay
			err = s.Alipay().Pay(o.OrderID)
		} else {
			err = s.WeChat().Pay(o.OrderID)
		}
		if err != nil {
			t.Fatal(err)
		}
		stacktest.WaitFor(t, ch+" order paid", 20*time.Second, func() bool { return stacktest.GetOrder(t, s, o.OrderID).Status == "PAID" })
		get(t, s.URLs.Gateway+"/c/"+tok+"/orders/"+o.OrderID, ua)
	}
	get(t, s.URLs.Gateway+"/healthz", "")
	// An unpaid order whose check is due: the sweeper reads, asks, writes.
	due := stacktest.CreateOrder(t, s, stacktest.CommunityToken(t, s, "demo-both"), "alipay", 500, "")
	if _, err := s.Store().OrderRepo().Update(ctx, due.OrderID, func(o *order.Order) error {
		o.NextCheckAt, o.Version = time.Now().Add(-time.Minute), o.Version+1
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.FireSchedule(ctx, "SweeperFunction.Sweep", ""); err != nil {
		t.Fatal(err)
	}
	stacktest.WaitFor(t, "the relay to catch up", 20*time.Second, s.StreamsCaughtUp)
	// The payments' events reach the dashboard's aggregates (StatsFunction).
	stats := &store.Stats{DB: s.Store().DB, Table: s.Tables["StatsTable"]}
	today := calendar.BusinessDay(time.Now())
	stacktest.WaitFor(t, "both payments in the dashboard aggregates", 20*time.Second, func() bool {
		ds, err := stats.Daily(ctx, stack.DemoCompanyID, []string{"demo-both"}, today.Prev(), today)
		var n int64
		for _, d := range ds {
			n += d.Count
		}
		return err == nil && n == 2
	})
	consoleAsItsStaffUseIt(t, s)
	cashierAtTheDesk(t, s)
	noticesPaidAsResidentsPay(t, s)
	adminRefundsAPayment(t, s)
	payerHistory(t, s)                // iam_history_test.go
	staffNotifiedOfPayments(t, s)     // iam_fanout_test.go
	settleTheDay(t, s)                // iam_settle_test.go
	adminsToldOfExceptions(t, s)      // iam_notify2_test.go
	settleThroughTheQueue(t, s)       // iam_settlefan_test.go
	staffBindTheOfficialAccount(t, s) // iam_oabind_test.go
	managersCollect(t, s)             // iam_managers_test.go
	announcementsHeard(t, s)          // iam_announce_test.go
	fenfuApplied(t, s)                // iam_fenfuapply_test.go
	fenfuPaidAndWatched(t, s)         // iam_fenfu_test.go
	remindersRun(t, s)                // iam_remind_test.go

	invoiceRequestedIssuedAndReversed(t, s) // iam_invoice_test.go

	remindersByOfficialAccount(t, s) // iam_remindoa_test.go

	// The grants, resolved to the local stack's ARNs.
	r := s.Resolver()
	var grants []grant
	for _, f := range tm.Functions() {
		sts, _ := statements(f)
		for _, st := range sts {
			for _, a := range list(st["Action"]) {
				action, _ := a.(string)
				name, ok := strings.CutPrefix(action, "dynamodb:")
				if !ok || strings.HasPrefix(name, "DescribeStream") || name == "GetRecords" || name == "GetShardIterator" || name == "ListStreams" {
					continue // stream reads are the event source mapping's, made with the function's role
				}
				for _, res := range list(st["Resource"]) {
					arn, err := r.String(res)
					if err != nil {
						t.Fatalf("%s: resolve %v: %v", f.LogicalID, res, err)
					}
					grants = append(grants, grant{f.LogicalID, name, arn})
				}
			}
		}
	}
	used := map[grant]bool{}
	for _, c := range s.DynamoDB().Calls() {
		fn, ok := strings.CutPrefix(c.Principal, "LOCAL")
		if !ok || stack.AccessKeyID(fn) != c.Principal {
			continue // tests and the stack itself
		}
		arn := "arn:aws:dynamodb:" + stack.Region + ":" + stack.AccountID + ":table/" + c.Table
		if c.Index != "" {
			arn += "/index/" + c.Index
		}
		allowed := false
		for _, g := range grants {
			if g.function == fn && g.action == c.Action && iamPattern(g.resource).MatchString(arn) {
				allowed, used[g] = true, true
			}
		}
		if !allowed {
			t.Errorf("%s calls dynamodb:%s on %s (%d times), which its policy does not allow", fn, c.Action, arn, c.N)
		}
	}
	for _, g := range grants {
		if !used[g] {
			t.Errorf("%s is granted dynamodb:%s on %s, which it never used in the flows above", g.function, g.action, g.resource)
		}
	}
	if len(used) == 0 {
		t.Fatal("no function call was attributed: the per-function access keys are not in effect")
	}
}

// consoleAsItsStaffUseIt signs in to the console as the demo company's admin
// and does what every AdminFunction grant is there for: a refused password
// (the throttle), signing in twice (the first session squeezed out, which its
// next call reports and audits), the staff list (the company index), a
// community created through the console form (directory writes, its first
// code, audited) and the communities listed (the parent index), the audit
// log, the records (two pages of the records index, and the records page),
// the dashboard (the aggregates), payment notices (made, listed, printed),
// the community's code PNG (the collection batch read), and signing out.
func consoleAsItsStaffUseIt(t *testing.T, s *stack.Stack) {
	t.Helper()
	acct := stacktest.DemoAccount(t, s, "admin", stack.DemoCompanyID)
	status, body := stacktest.ConsoleLogin(t, s, &http.Client{Timeout: 30 * time.Second}, acct.Phone, acct.Password+"-wrong")
	if status != http.StatusUnauthorized || !strings.Contains(string(body), `"bad_credentials"`) {
		t.Fatalf("wrong password: %d %s", status, body)
	}
	first := stacktest.ConsoleAs(t, s, acct)
	admin := stacktest.ConsoleAs(t, s, acct)
	if status, body := first.Call(t, http.MethodGet, "/admin/api/communities", "", nil); status != http.StatusUnauthorized || !strings.Contains(string(body), `"squeezed_out"`) {
		t.Fatalf("the squeezed-out session: %d %s", status, body)
	}
	if status, body := admin.Call(t, http.MethodGet, "/admin/staff", "", nil); status != http.StatusOK || !strings.Contains(string(body), "收银员（演示）") {
		t.Fatalf("staff page: %d %.300s", status, body)
	}

	resp, err := admin.PostForm(admin.Base+"/admin/communities", url.Values{"name": {"权限测试小区"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	created := regexp.MustCompile(`^/admin/communities/([^/?]+)\?done=created`).FindStringSubmatch(resp.Header.Get("Location"))
	if resp.StatusCode/100 != 3 || created == nil {
		t.Fatalf("create community: %d, Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	var list struct {
		Communities []struct{ ID, Name string } `json:"communities"`
	}
	admin.GetJSON(t, "/admin/api/communities", &list)
	listed := false
	for _, c := range list.Communities {
		listed = listed || (c.ID == created[1] && c.Name == "权限测试小区")
	}
	if !listed {
		t.Fatalf("the new community %s is not listed: %+v", created[1], list.Communities)
	}
	if status, body := admin.Call(t, http.MethodGet, "/admin/audit", "", nil); status != http.StatusOK ||
		!strings.Contains(string(body), "新建小区") || !strings.Contains(string(body), "community/"+created[1]) {
		t.Fatalf("audit log: %d, want the community's creation: %.500s", status, body)
	}

	// The records, two pages (the second checks its cursor), and the page.
	cursor := ""
	for page := range 2 {
		var p struct {
			Payments []json.RawMessage `json:"payments"`
			Next     string            `json:"next_cursor"`
		}
		admin.GetJSON(t, "/admin/api/communities/demo-both/payments?limit=1"+cursor, &p)
		if len(p.Payments) != 1 || p.Next == "" {
			t.Fatalf("records page %d: %d payments, cursor %q (two payments were made)", page, len(p.Payments), p.Next)
		}
		cursor = "&cursor=" + p.Next
	}
	if status, body := admin.Call(t, http.MethodGet, "/admin/communities/demo-both/records", "", nil); status != http.StatusOK || !strings.Contains(string(body), "12.34") {
		t.Fatalf("records page: %d %.300s", status, body)
	}

	var dash struct {
		Total struct {
			LastDays struct {
				All struct {
					Count     int64 `json:"count"`
					AmountFen int64 `json:"amount_fen"`
				} `json:"all"`
			} `json:"last_30_days"`
		} `json:"total"`
	}
	admin.GetJSON(t, "/admin/api/dashboard", &dash)
	if a := dash.Total.LastDays.All; a.Count != 2 || a.AmountFen != 2468 {
		t.Fatalf("dashboard: last 30 days %+v, want the two payments (2468 fen)", a)
	}

	// Payment notices: one house's (its house, bills and notices read, the
	// notice put), a community batch (its houses listed), the listing and
	// the print page (the notice read).
	h := stacktest.SeedHouse(t, s, stack.DemoCompanyID, "demo-both", "88", "1", "101", "权限测试", 12000)
	if status, body := admin.Call(t, http.MethodPost, "/admin/api/notices", "application/json", []byte(`{"house_id":"`+h.ID+`"}`)); status != http.StatusCreated {
		t.Fatalf("create notice: %d %s", status, body)
	}
	if status, body := admin.Call(t, http.MethodPost, "/admin/api/notices", "application/json", []byte(`{"community_id":"demo-both","building":"88"}`)); status != http.StatusOK {
		t.Fatalf("notice batch: %d %s", status, body)
	}
	var notices struct {
		Notices []struct{ ID string } `json:"notices"`
	}
	admin.GetJSON(t, "/admin/api/communities/demo-both/notices?building=88", &notices)
	if len(notices.Notices) != 1 {
		t.Fatalf("notices of building 88: %+v", notices)
	}
	if status, body := admin.Call(t, http.MethodGet, "/admin/api/notices/"+notices.Notices[0].ID+"/print", "", nil); status != http.StatusOK || !bytes.Contains(body, []byte("data:image/png;base64,")) {
		t.Fatalf("notice print: %d %.300s", status, body)
	}

	status, body = admin.Call(t, http.MethodGet, "/admin/api/communities/demo-both/code.png", "", nil)
	if status != http.StatusOK || !bytes.HasPrefix(body, []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatalf("code.png: %d %.40q", status, body)
	}

	// Houses and bills: a fee item, an import of houses then of bills (the
	// store's batch calls, the community's lock), the listings (community
	// and house indexes), the job and the CSV.
	if status, body := admin.Call(t, http.MethodPost, "/admin/api/communities/"+created[1]+"/fee-items", "application/json",
		[]byte(`{"name":"物业费","per_m2":"2.50","cycle":"monthly"}`)); status != http.StatusOK {
		t.Fatalf("fee item: %d %s", status, body)
	}
	for _, f := range [][2]string{{"houses", "楼栋,单元,房号,业主姓名,手机号,面积\n1,1,101,张三,13800000009,90\n"}, {"bills", "楼栋,单元,房号,收费项目,账期\n1,1,101,物业费,2026-11\n"}} {
		kind, csv := f[0], f[1] // houses first: the bills name them
		status, body := admin.Call(t, http.MethodPost, "/admin/api/communities/"+created[1]+"/imports?kind="+kind, "text/csv", []byte(csv))
		if status != http.StatusOK || !strings.Contains(string(body), `"state":"done"`) {
			t.Fatalf("import %s: %d %s", kind, status, body)
		}
		if kind == "bills" {
			var j struct{ ID string }
			json.Unmarshal(body, &j)
			admin.GetJSON(t, "/admin/api/imports/"+j.ID, &j)
		}
	}
	var houses struct {
		Houses []struct{ ID string } `json:"houses"`
	}
	admin.GetJSON(t, "/admin/api/communities/"+created[1]+"/houses", &houses)
	var billList struct {
		Bills []struct {
			AmountFen int64 `json:"amount_fen"`
		} `json:"bills"`
	}
	admin.GetJSON(t, "/admin/api/communities/"+created[1]+"/bills?period=2026-11", &billList)
	if len(houses.Houses) != 1 || len(billList.Bills) != 1 || billList.Bills[0].AmountFen != 22500 {
		t.Fatalf("houses %+v, bills %+v", houses, billList)
	}
	admin.GetJSON(t, "/admin/api/houses/"+houses.Houses[0].ID+"/bills", &billList)
	if status, body := admin.Call(t, http.MethodGet, "/admin/api/communities/"+created[1]+"/bills.csv", "", nil); status != http.StatusOK || !strings.Contains(string(body), "225.00") {
		t.Fatalf("bills.csv: %d %.300s", status, body)
	}

	if status, body := admin.Call(t, http.MethodDelete, "/admin/api/session", "", nil); status != http.StatusNoContent {
		t.Fatalf("sign out: %d %s", status, body)
	}
	if status, _ := admin.Call(t, http.MethodGet, "/admin/api/communities", "", nil); status != http.StatusUnauthorized {
		t.Fatalf("after signing out: %d, want 401", status)
	}
}

func get(t *testing.T, url, ua string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if ua != "" {
		req.Header.Set("User-Agent", ua)
	}
	resp, err := stacktest.HTTPClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}
