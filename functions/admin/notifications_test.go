package main

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/estatepay/estatepay/shared/domain/notification"
)

func TestNotificationSettingsPerCommunity(t *testing.T) {
	f := newFixture(t)
	s := f.login("cashier-a")
	r := f.as(s, rq{method: "GET", path: "/admin/notifications"})
	if r.StatusCode != http.StatusOK || !strings.Contains(r.Body, "小区A") || strings.Contains(r.Body, "小区B") ||
		strings.Contains(r.Body, `name="pay_cm-a" value="1" checked`) || !strings.Contains(r.Body, "通知设置") {
		t.Fatalf("page: %d %.2000s", r.StatusCode, r.Body)
	}
	// Opt in for the own company's community; an id of another company is ignored.
	r = f.as(s, rq{method: "POST", path: "/admin/notifications", form: url.Values{"pay_cm-a": {"1"}, "ch_cm-a": {"sms"}, "pay_cm-b": {"1"}, "ch_cm-b": {"sms"}}})
	if r.StatusCode != http.StatusSeeOther && r.StatusCode != http.StatusFound {
		t.Fatalf("save: %d %.500s", r.StatusCode, r.Body)
	}
	subs, err := f.st.NotificationRepo().Subscribers(context.Background(), coA, cmA)
	if err != nil || len(subs) != 1 || subs[0].StaffID != "cashier-a" || subs[0].Channel != notification.SMS {
		t.Fatalf("subscribers of cm-a: %+v %v", subs, err)
	}
	if other, _ := f.st.NotificationRepo().Subscribers(context.Background(), coB, cmB); len(other) != 0 {
		t.Fatalf("another company's community was subscribed: %+v", other)
	}
	r = f.as(s, rq{method: "GET", path: "/admin/notifications"})
	if !strings.Contains(r.Body, `name="pay_cm-a" value="1" checked`) || !strings.Contains(r.Body, `<option value="sms" selected>`) {
		t.Fatalf("page after saving: %.2000s", r.Body)
	}
	// Off again; a channel that does not exist is refused.
	if r = f.as(s, rq{method: "POST", path: "/admin/notifications", form: url.Values{"ch_cm-a": {"fax"}}}); !strings.Contains(r.Headers["Location"], "error") && r.StatusCode < 400 {
		t.Fatalf("unknown channel accepted: %d %v", r.StatusCode, r.Headers)
	}
	f.as(s, rq{method: "POST", path: "/admin/notifications", form: url.Values{"ch_cm-a": {"sms"}}})
	if subs, _ := f.st.NotificationRepo().Subscribers(context.Background(), coA, cmA); len(subs) != 0 {
		t.Fatalf("still subscribed after opting out: %+v", subs)
	}
	// The operator has no company: no payment messages, nothing stored.
	op := f.login("op")
	if r = f.as(op, rq{method: "GET", path: "/admin/notifications"}); !strings.Contains(r.Body, "平台运营账号没有通知设置") {
		t.Fatalf("operator: %d %.500s", r.StatusCode, r.Body)
	}
	f.as(op, rq{method: "POST", path: "/admin/notifications", form: url.Values{"company": {coA}, "pay_cm-a": {"1"}, "ch_cm-a": {"sms"}}})
	if subs, _ := f.st.NotificationRepo().Subscribers(context.Background(), coA, cmA); len(subs) != 0 {
		t.Fatalf("the operator subscribed: %+v", subs)
	}
}
