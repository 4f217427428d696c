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
// swept, the records listed — with each function
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
	// The records, two pages (the second checks its cursor).
	cursor := ""
	for page := range 2 {
		req, _ := http.NewRequest(http.MethodGet, s.URLs.Gateway+"/admin/api/communities/demo-both/payments?limit=1"+cursor, nil)
		req.Header.Set("Authorization", "Bearer "+s.Keys().AdminToken)
		resp, err := stacktest.HTTPClient.Do(req)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("admin records page %d: %v %v", page, resp, err)
		}
		var p struct {
			Next string `json:"next_cursor"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&p)
		resp.Body.Close()
		if p.Next == "" {
			t.Fatalf("records page %d has no cursor (two payments were made)", page)
		}
		cursor = "&cursor=" + p.Next
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
