package main

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/estatepay/estatepay/infra/local/stacktest"
	"github.com/estatepay/estatepay/shared/domain/house"
)

// The 催缴单 batch: the owing houses without a phone and not opted out, in
// building/unit/room order, each once across 下一批 pages; the house page's
// switch and the settings' roles and validation.
func TestRemindersConsole(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	var hs []house.House
	for i := 1; i <= 7; i++ {
		h, _ := stacktest.SeedHouseBills(t, f.st, coA, cmA, "9", "", fmt.Sprintf("%d01", i), 10000)
		hs = append(hs, h)
	}
	withPhone := hs[5]
	withPhone.OwnerPhone = "13800009999"
	if err := f.st.HouseRepo().PutHouse(ctx, withPhone); err != nil {
		t.Fatal(err)
	}
	admin, cashier := f.login("admin-a"), f.login("cashier-a")
	// Staff switch 不接收催缴 for the seventh house on its page.
	r := f.as(cashier, rq{method: http.MethodPost, path: "/admin/cashier/houses/" + hs[6].ID + "/remind-optout", form: url.Values{"out": {"1"}}})
	if r.StatusCode/100 != 3 || !strings.Contains(r.Headers["Location"], "done=remind_off") {
		t.Fatalf("opt out: %d %v", r.StatusCode, r.Headers)
	}
	if r := f.as(cashier, rq{method: http.MethodGet, path: "/admin/cashier/houses/" + hs[6].ID}); !strings.Contains(r.Body, "不接收催缴") || !strings.Contains(r.Body, "恢复接收催缴") {
		t.Fatalf("house page after opting out: %.500s", r.Body)
	}
	if th, _ := f.st.ReminderRepo().Throttle(ctx, coA, hs[6].ID); !th.OptedOut || th.OptedBy != "staff:cashier-a" {
		t.Fatalf("throttle %+v", th)
	}
	// Another company's house is not found.
	if r := f.as(f.login("admin-b"), rq{method: http.MethodPost, path: "/admin/cashier/houses/" + hs[0].ID + "/remind-optout", form: url.Values{"out": {"1"}}}); r.StatusCode != http.StatusNotFound {
		t.Fatalf("another company's house: %d", r.StatusCode)
	}

	old := remindPrintExamine
	remindPrintExamine = 3
	defer func() { remindPrintExamine = old }()
	printed := map[string]int{}
	path, pages := "/admin/reminders/print?community="+cmA, 0
	for path != "" && pages < 5 {
		pages++
		r := f.as(admin, rq{method: http.MethodGet, path: path})
		if r.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d %.300s", path, r.StatusCode, r.Body)
		}
		for _, h := range hs {
			printed[h.ID] += strings.Count(r.Body, ">"+h.Label()+"<")
		}
		path = ""
		if i := strings.Index(r.Body, `href="/admin/reminders/print?`); i >= 0 {
			rest := r.Body[i+len(`href="`):]
			path = html.UnescapeString(rest[:strings.Index(rest, `"`)])
		}
	}
	if pages != 3 {
		t.Fatalf("%d pages, want 3 (3 houses examined a page)", pages)
	}
	for i, h := range hs {
		want := 1
		if i >= 5 { // a phone; opted out
			want = 0
		}
		if printed[h.ID] != want {
			t.Fatalf("%s printed %d times, want %d (%v)", h.Label(), printed[h.ID], want, printed)
		}
	}

	// Settings: admins only, 1–90 days.
	form := url.Values{"community": {cmA}, "enabled": {"1"}, "period_days": {"14"}}
	if r := f.as(cashier, rq{method: http.MethodPost, path: "/admin/reminders", form: form}); r.StatusCode != http.StatusForbidden {
		t.Fatalf("a cashier saved settings: %d", r.StatusCode)
	}
	if r := f.as(admin, rq{method: http.MethodPost, path: "/admin/reminders", form: url.Values{"community": {cmA}, "period_days": {"0"}}}); r.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("0 days: %d", r.StatusCode)
	}
	if r := f.as(admin, rq{method: http.MethodPost, path: "/admin/reminders", form: url.Values{"community": {cmB}, "period_days": {"7"}}}); r.StatusCode != http.StatusNotFound {
		t.Fatalf("another company's community: %d", r.StatusCode)
	}
	if r := f.as(admin, rq{method: http.MethodPost, path: "/admin/reminders", form: form}); r.StatusCode/100 != 3 {
		t.Fatalf("save: %d %.300s", r.StatusCode, r.Body)
	}
	if r := f.as(cashier, rq{method: http.MethodGet, path: "/admin/reminders"}); r.StatusCode != 200 || !strings.Contains(r.Body, "已开启") || !strings.Contains(r.Body, "每 14 天") || strings.Contains(r.Body, `name="period_days"`) {
		t.Fatalf("the page for a cashier: %d %.800s", r.StatusCode, r.Body)
	}
	if r := f.as(cashier, rq{method: http.MethodGet, path: "/admin/cashier/houses/" + hs[0].ID}); !strings.Contains(r.Body, "未登记手机号") {
		t.Fatalf("a house without a phone: %.500s", r.Body)
	}
}
