package main

import (
	"context"
	"net/http"
	"net/http/cookiejar"
	"regexp"
	"strings"
	"testing"

	"github.com/estatepay/estatepay/infra/local/stack"
	"github.com/estatepay/estatepay/infra/local/stacktest"
)

// A notice opened in WeChat offers 微信接收缴费提醒; following it takes the
// platform official account's round trip (AdminFunction, the WeChat
// sandbox) and binds that WeChat to the house; the notice then says
// 已开启微信提醒. Outside WeChat the link is not offered.
func TestNoticeOffersWechatReminders(t *testing.T) {
	s := stacktest.Start(t)
	h := stacktest.SeedHouse(t, s, stack.DemoCompanyID, "demo-both", "5", "1", "303", "钱七", 10000)
	n := stacktest.SeedNotice(t, s, h)
	u := s.URLs.Gateway + "/n/" + n.ID

	if p := get(t, noRedirect(), u, uaAlipay); p.status != http.StatusOK || strings.Contains(p.body, "微信接收缴费提醒") {
		t.Fatalf("Alipay: %d, the link offered outside WeChat", p.status)
	}
	jar, _ := cookiejar.New(nil)
	phone := &http.Client{Jar: jar}
	p := get(t, phone, u, uaWeChat)
	want := `href="/admin/remind-bind?n=` + n.ID + `"`
	if p.status != http.StatusOK || !strings.Contains(p.body, want) || !strings.Contains(p.body, "微信接收缴费提醒") {
		t.Fatalf("WeChat: %d, want %s:\n%s", p.status, want, p.body)
	}
	// Following it in WeChat (the sandbox's snsapi_base round trip).
	p = get(t, phone, s.URLs.Gateway+"/admin/remind-bind?n="+n.ID, uaWeChat)
	if p.status != http.StatusOK || !strings.Contains(p.body, "已开启微信提醒") || !strings.Contains(p.body, "/n/"+n.ID) {
		t.Fatalf("bind: %d %s\n%.2000s", p.status, p.url, p.body)
	}
	th, err := s.Store().ReminderRepo().Throttle(context.Background(), h.CompanyID, h.ID)
	if err != nil || th.OpenID == "" {
		t.Fatalf("throttle after binding: %+v %v", th, err)
	}
	p = get(t, phone, u, uaWeChat)
	if !strings.Contains(p.body, `id="remind-bound"`) || !strings.Contains(p.body, "已开启微信提醒") || strings.Contains(p.body, "remind-bind?") ||
		strings.Contains(p.body, th.OpenID) || !strings.Contains(p.body, `id="remind-unsub"`) {
		t.Fatalf("notice after binding:\n%s", p.body)
	}
	// Its 不再接收 is the house's 退订 link: confirmed, every channel stops.
	m := regexp.MustCompile(`href="(/u/[^"]+)" id="remind-unsub"`).FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no 退订 link:\n%s", p.body)
	}
	resp, err := stacktest.HTTPClient.Post(s.URLs.Gateway+m[1], "", nil)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("退订: %v %v", resp, err)
	}
	resp.Body.Close()
	if th, _ := s.Store().ReminderRepo().Throttle(context.Background(), h.CompanyID, h.ID); !th.OptedOut || th.OpenID == "" {
		t.Fatalf("after 退订: %+v", th)
	}
	if p := get(t, phone, u, uaWeChat); strings.Contains(p.body, "已开启微信提醒") {
		t.Fatal("an opted-out house still shows 已开启微信提醒")
	}
}
