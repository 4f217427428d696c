package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/estatepay/estatepay/infra/local/stack"
	"github.com/estatepay/estatepay/infra/local/stacktest"
	wechatsb "github.com/estatepay/estatepay/infra/sandbox/wechat"
	"github.com/estatepay/estatepay/shared/domain/calendar"
	dsettle "github.com/estatepay/estatepay/shared/domain/settlement"
	"github.com/estatepay/estatepay/shared/store"
)

func fire(t *testing.T, s *stack.Stack, in map[string]string) Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	raw, _ := json.Marshal(in)
	out, err := s.FireSchedule(ctx, "SettleFunction.Settle", string(raw))
	if err != nil {
		t.Fatalf("settle: %v (%s)", err, out)
	}
	var rep Report
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("settle report %s: %v", out, err)
	}
	return rep
}

// The local stack's acceptance: after sandbox payments in both channels,
// settling today gives the statements and no exception; a difference
// injected into the sandbox's bill is found, exactly that one.
func TestSettleTodayThenFindAnInjectedDifference(t *testing.T) {
	s := stacktest.Start(t)
	tok := stacktest.CommunityToken(t, s, "demo-both")
	var wx string
	for _, ch := range []string{"wechat", "alipay"} {
		o := stacktest.CreateOrder(t, s, tok, ch, 2500, map[string]string{"wechat": "oSettlePayer"}[ch])
		var err error
		if ch == "alipay" {
			stacktest.HTTPClient.Get(o.Pay.RedirectURL) //nolint:errcheck // the cashier opens: the trade exists
			err = s.Alipay().Pay(o.OrderID)
		} else {
			wx = o.OrderID
			err = s.WeChat().Pay(o.OrderID)
		}
		if err != nil {
			t.Fatal(err)
		}
		stacktest.WaitFor(t, ch+" paid", 20*time.Second, func() bool { return stacktest.GetOrder(t, s, o.OrderID).Status == "PAID" })
	}
	day := calendar.BusinessDay(time.Now())
	rep := fire(t, s, map[string]string{"day": string(day), "company": stack.DemoCompanyID})
	if len(rep.Lines) < 2 {
		t.Fatalf("report %+v: want a line per approved interface", rep)
	}
	for _, l := range rep.Lines {
		if l.Error != "" || l.Exceptions != 0 || len(l.Statements) == 0 || l.Statements[0].Count == 0 || l.Statements[0].NetFen <= 0 {
			t.Fatalf("line %+v", l)
		}
	}
	repo := &store.Settlements{DB: s.Store().DB, Table: s.Tables["StatsTable"]}
	if ex, err := repo.Exceptions(context.Background(), stack.DemoCompanyID, day, day); err != nil || len(ex) != 0 {
		t.Fatalf("exceptions %+v %v", ex, err)
	}

	s.WeChat().InjectBillDifference(wechatsb.BillDifference{Kind: wechatsb.BillChangedAmount, OutTradeNo: wx, AmountFen: 2400})
	t.Cleanup(s.WeChat().ClearBillDifferences)
	rep = fire(t, s, map[string]string{"day": string(day), "company": stack.DemoCompanyID, "interface": "demo-wechat"})
	if len(rep.Lines) != 1 || rep.Lines[0].Exceptions != 1 || rep.Lines[0].New != 1 {
		t.Fatalf("after the injection %+v", rep)
	}
	ex, err := repo.Exceptions(context.Background(), stack.DemoCompanyID, day, day)
	if err != nil || len(ex) != 1 || ex[0].Kind != dsettle.AmountDiffers || ex[0].OrderID != wx || ex[0].OurFen != 2500 || ex[0].TheirFen != 2400 || ex[0].Status != dsettle.Open {
		t.Fatalf("exceptions %+v %v", ex, err)
	}

	// The console: the admin's page shows the statements, the exception
	// with its advice and a resolve form (escaped); the form resolves it;
	// a cashier may not open it.
	admin := stacktest.Console(t, s, "admin", stack.DemoCompanyID)
	month := string(day)[:7]
	status, body := admin.Call(t, http.MethodGet, "/admin/settlement?month="+month, "", nil)
	page := string(body)
	if status != http.StatusOK || !strings.Contains(page, "金额不符") || !strings.Contains(page, wx) || !strings.Contains(page, "标记已处理") ||
		!strings.Contains(page, "25.00") || !strings.Contains(page, "24.00") {
		t.Fatalf("settlement page %d: %.2000s", status, page)
	}
	form := url.Values{"csrf": {admin.CSRF}, "day": {string(day)}, "id": {ex[0].ID}, "note": {"<b>渠道</b>已更正"}}
	if status, body = admin.Call(t, http.MethodPost, "/admin/settlement/exceptions", "application/x-www-form-urlencoded", []byte(form.Encode())); status != http.StatusFound {
		t.Fatalf("resolve form: %d %s", status, body)
	}
	status, body = admin.Call(t, http.MethodGet, "/admin/settlement?month="+month+"&done=resolved", "", nil)
	if status != http.StatusOK || !strings.Contains(string(body), "差异已处理") || !strings.Contains(string(body), "&lt;b&gt;渠道&lt;/b&gt;已更正") {
		t.Fatalf("resolve form: %d %.2000s", status, body)
	}
	form.Set("note", "")
	if status, _ = admin.Call(t, http.MethodPost, "/admin/settlement/exceptions", "application/x-www-form-urlencoded", []byte(form.Encode())); status != http.StatusConflict {
		t.Fatalf("resolving again: %d", status)
	}
	cashier := stacktest.Console(t, s, "cashier", stack.DemoCompanyID)
	if status, _ := cashier.Call(t, http.MethodGet, "/admin/api/settlement?month="+month, "", nil); status != http.StatusForbidden {
		t.Fatalf("a cashier opened the settlement: %d", status)
	}
}
