package template_test

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
	"github.com/estatepay/estatepay/shared/domain/calendar"
)

// remindersRun runs the arrears reminders as the schedule does on the demo
// (RemindFunction at 10:00: the settings, the overdue index, houses,
// throttles, notices, the claim transactions, the sends' results, the run
// summaries), and the console's side of them as an admin uses it: a house's
// page with its reminders (one Query), the 不接收催缴 switch (the throttle's
// conditional Put) and the 催缴单 print batch (the overdue index, notices).
func remindersRun(t *testing.T, s *stack.Stack) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	if err := s.SetRemindClock(calendar.BusinessDay(time.Now()).Start().Add(10 * time.Hour)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.SetRemindClock(time.Time{}) })
	out, err := s.FireSchedule(ctx, "RemindFunction.Remind", "")
	var rep struct {
		Sent int `json:"sent"`
	}
	if err != nil || json.Unmarshal(out, &rep) != nil || rep.Sent == 0 {
		t.Fatalf("reminder run: %v %s", err, out)
	}
	// A resident follows the 退订 link of a reminder (LandingFunction: the
	// house, the throttle's conditional Put), then staff take it back.
	unsub := ""
	if resp, err := stacktest.HTTPClient.Get(s.URLs.Outbox + "/messages"); err == nil {
		var msgs []struct {
			Template string   `json:"template"`
			Params   []string `json:"params"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&msgs)
		resp.Body.Close()
		for _, m := range msgs {
			if m.Template == stack.LocalSmsRemindTemplateID && len(m.Params) == 5 {
				unsub = m.Params[4]
			}
		}
	}
	if resp, err := stacktest.HTTPClient.Post(unsub, "", nil); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("退订 %q: %v %v", unsub, resp, err)
	}
	admin := stacktest.Console(t, s, "admin", stack.DemoCompanyID)
	hid := stack.DemoRemindNoContactHouse()
	if status, body := admin.Call(t, http.MethodGet, "/admin/cashier/houses/"+hid, "", nil); status != http.StatusOK || !strings.Contains(string(body), "未登记手机号") {
		t.Fatalf("house page: %d %.500s", status, body)
	}
	for _, out := range []string{"1", "0"} {
		form := url.Values{"out": {out}}.Encode()
		if status, body := admin.Call(t, http.MethodPost, "/admin/cashier/houses/"+hid+"/remind-optout", "application/x-www-form-urlencoded", []byte(form)); status/100 != 3 {
			t.Fatalf("opt out=%s: %d %.500s", out, status, body)
		}
	}
	// The overview (settings and the last run's outcome) and a settings change.
	if status, body := admin.Call(t, http.MethodGet, "/admin/reminders", "", nil); status != http.StatusOK ||
		!strings.Contains(string(body), "已开启") || !strings.Contains(string(body), "已发送 ") {
		t.Fatalf("催缴 page: %d %.500s", status, body)
	}
	bad := url.Values{"community": {stack.DemoRemindCommunity}, "enabled": {"1"}, "period_days": {"91"}}.Encode()
	if status, body := admin.Call(t, http.MethodPost, "/admin/reminders", "application/x-www-form-urlencoded", []byte(bad)); status != http.StatusUnprocessableEntity ||
		!strings.Contains(string(body), "催缴间隔应为 1 到 90 天") {
		t.Fatalf("91 days: %d %.300s", status, body)
	}
	form := url.Values{"community": {stack.DemoRemindCommunity}, "enabled": {"1"}, "period_days": {"7"}}.Encode()
	if status, body := admin.Call(t, http.MethodPost, "/admin/reminders", "application/x-www-form-urlencoded", []byte(form)); status/100 != 3 {
		t.Fatalf("催缴 settings: %d %.500s", status, body)
	}
	if status, body := admin.Call(t, http.MethodGet, "/admin/reminders/print?community="+stack.DemoRemindCommunity, "", nil); status != http.StatusOK || strings.Count(string(body), "<h2>催缴单</h2>") == 0 || !strings.Contains(string(body), "2栋2单元501") {
		i := strings.Index(string(body), "<body")
		t.Fatalf("催缴单 batch: %d %.3000s", status, string(body)[max(i, 0):])
	}
}
