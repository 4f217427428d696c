package template_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/estatepay/estatepay/infra/local/stack"
	"github.com/estatepay/estatepay/infra/local/stacktest"
	"github.com/estatepay/estatepay/shared/domain/calendar"
)

// remindersByOfficialAccount: a resident binds a WeChat from a notice
// opened in the WeChat WebView (AdminFunction: the notice, the house, the
// throttle's conditional Put, the audit entry), a staff member unbinds it
// on the house page, and a run a period later sends the demo's bound house
// its template message after the shared access token was refused
// (RemindFunction: the AccessTable's WXTOKEN# item read, then written).
func remindersByOfficialAccount(t *testing.T, s *stack.Stack) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	// A notice to bind from: the pay link of the demo's template message.
	resp, err := stacktest.HTTPClient.Get(s.URLs.Outbox + "/messages")
	if err != nil {
		t.Fatal(err)
	}
	var msgs []struct {
		Channel, Template, Body string
	}
	_ = json.NewDecoder(resp.Body).Decode(&msgs)
	resp.Body.Close()
	payURL := ""
	for _, m := range msgs {
		if m.Channel == "wechat_oa" && m.Template == stack.LocalRemindWechatTemplateID {
			for _, line := range strings.Split(m.Body, "\n") {
				if u, ok := strings.CutPrefix(line, "url: "); ok {
					payURL = u
				}
			}
		}
	}
	nid := payURL[strings.LastIndex(payURL, "/n/")+3:]
	if payURL == "" || nid == "" {
		t.Fatalf("no reminder by template message in the outbox: %+v", msgs)
	}
	jar, _ := cookiejar.New(nil)
	phone := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	resp, err = phone.Get(s.URLs.WeChatWebView + "/admin/remind-bind?n=" + url.QueryEscape(nid))
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), "已开启微信提醒") {
		t.Fatalf("微信接收缴费提醒: %d %.500s", resp.StatusCode, page)
	}
	hid := stack.DemoRemindWechatHouse()
	admin := stacktest.Console(t, s, "admin", stack.DemoCompanyID)
	form := url.Values{"unbind": {"1"}}.Encode()
	if status, body := admin.Call(t, http.MethodPost, "/admin/cashier/houses/"+hid+"/remind-wechat", "application/x-www-form-urlencoded", []byte(form)); status/100 != 3 {
		t.Fatalf("unbind: %d %.300s", status, body)
	}
	// Bound again (the demo's openid) for the run a period later.
	if _, err := s.Store().ReminderRepo().SetOpenID(ctx, stack.DemoCompanyID, hid, stack.DemoRemindOpenID, time.Now()); err != nil {
		t.Fatal(err)
	}
	s.Outbox().ExpireTokens()
	if err := s.SetRemindClock(calendar.BusinessDay(time.Now()).Start().Add(8*24*time.Hour + 10*time.Hour)); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.SetRemindClock(time.Time{}) }()
	in := `{"company":"` + stack.DemoCompanyID + `","community":"` + stack.DemoRemindCommunity + `"}`
	out, err := s.FireSchedule(ctx, "RemindFunction.Remind", in)
	var rep struct {
		Sent int `json:"sent"`
	}
	if err != nil || json.Unmarshal(out, &rep) != nil || rep.Sent == 0 {
		t.Fatalf("reminder run a period later: %v %s", err, out)
	}
}
