package e2e

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/estatepay/estatepay/infra/local/stacktest"
)

// announceEntry is one entry of the page's window.announceLog: what it
// queued to say for a payment.
type announceEntry struct {
	ID    string   `json:"id"`
	Mode  string   `json:"mode"`
	Text  string   `json:"text"`
	Clips []string `json:"clips"`
}

// 收款播报 (issue 13, "Done when"): the demo cashier opens 收款播报 from the
// cashier desk and switches it on; a resident pays 128.50 元 with WeChat in
// the sandbox; within seconds the payment is listed, and — headless
// Chromium has no voices — the page chose the clip fallback and queued
// exactly one clip sequence for it (the test hears nothing), still one after
// more polls (which read the last minutes again).
func TestConsoleAnnouncesAPayment(t *testing.T) {
	b := consoleBrowser(t)
	s := stacktest.Start(t)
	cashier := account(t, s, "cashier", false)
	tab := isolatedTab(t, b, "")
	signIn(t, s, tab, cashier.Phone, cashier.Password, "/admin")
	if st := open(t, tab, s.URLs.Gateway+"/admin/cashier"); st != http.StatusOK {
		t.Fatalf("收银台 answered %d", st)
	}
	sctx, cancel := context.WithTimeout(tab, stepTimeout)
	if _, err := chromedp.RunResponse(sctx, chromedp.Click(chromedp.ID("announce-link"))); err != nil {
		t.Fatalf("e2e: open 收款播报 from the desk: %v\n%s", err, pageState(tab))
	}
	cancel()
	if p := pagePath(t, tab); p != "/admin/announce" {
		t.Fatalf("the desk's link went to %s", p)
	}
	if txt := textOf(t, tab, "announce-state"); txt != "请点击开启" {
		t.Fatalf("before the switch: %q", txt)
	}
	do(t, tab, "switch announcements on", chromedp.Click(chromedp.ID("announce-on")))
	eventually(t, tab, 10*time.Second, "announcements on", func() (bool, string) {
		st := attr(t, tab, "announce", "data-state")
		return st == "on", st + " " + textOf(t, tab, "announce-state")
	})
	if m := attr(t, tab, "announce", "data-mode"); m != "clips" {
		t.Fatalf("headless Chromium has no voices, yet the page chose %q", m)
	}
	if txt := textOf(t, tab, "announce-state"); !strings.Contains(txt, "播报已开启") {
		t.Fatalf("switched on: %q", txt)
	}

	o := stacktest.CreateOrder(t, s, stacktest.CommunityToken(t, s, "demo-both"), "wechat", 12850, "oAnnounceE2E")
	if err := s.WeChat().Pay(o.OrderID); err != nil {
		t.Fatal(err)
	}
	paid := time.Now()
	eventually(t, tab, 15*time.Second, "the payment listed", func() (bool, string) {
		n := run(t, tab, "count rows", chromedp.Evaluate[int](`document.querySelectorAll('#announce-list tr[data-id^="`+o.OrderID+`:"]').length`))
		return n == 1, textOf(t, tab, "announce-list")
	})
	t.Logf("listed %.1f s after the sandbox payment", time.Since(paid).Seconds())
	row := textOf(t, tab, "announce-list")
	for _, want := range []string{"微信", "128.50", "阳光花园"} {
		if !strings.Contains(row, want) {
			t.Errorf("the list lacks %q: %s", want, row)
		}
	}
	queued := func() []announceEntry {
		log := run(t, tab, "announceLog", chromedp.Evaluate[[]announceEntry](`window.announceLog || []`))
		var mine []announceEntry
		for _, e := range log {
			if strings.HasPrefix(e.ID, o.OrderID+":") {
				mine = append(mine, e)
			}
		}
		return mine
	}
	want := "wechat n1 bai n2 shi n8 yuan n5 jiao"
	if q := queued(); len(q) != 1 || q[0].Mode != "clips" || strings.Join(q[0].Clips, " ") != want || q[0].Text != "微信收款一百二十八元五角" {
		t.Fatalf("queued %+v, want one clip sequence %s", q, want)
	}
	// Two more polls (each reads the last minutes again): still one.
	polls := attr(t, tab, "announce", "data-polls")
	eventually(t, tab, 15*time.Second, "two more polls", func() (bool, string) {
		p := attr(t, tab, "announce", "data-polls")
		return len(p) > 0 && p != polls && atoi(p) >= atoi(polls)+2, p
	})
	if q := queued(); len(q) != 1 {
		t.Fatalf("after more polls, %d entries for the payment", len(q))
	}
	eventually(t, tab, 15*time.Second, "the clip sequence played out", func() (bool, string) {
		sp := attr(t, tab, "announce", "data-spoken")
		return atoi(sp) >= 1, sp
	})
	consoleShots(t, tab, "announce")
}

func attr(t *testing.T, tab context.Context, id, name string) string {
	t.Helper()
	return run(t, tab, "attribute "+name, chromedp.Evaluate[string](
		`(function(){var e=document.getElementById(`+strconv.Quote(id)+`);return e?(e.getAttribute(`+strconv.Quote(name)+`)||""):""})()`))
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			return n
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// 收款播报 in the managers' app: the demo manager switches it on at the
// top of 收款码 and a customer pays the manager's code; the payment is
// listed within seconds and queued once as a clip sequence. The company's
// other payments (a community code) are not the manager's to hear.
func TestMobileAnnouncesOwnPayments(t *testing.T) {
	b := consoleBrowser(t)
	s := stacktest.Start(t)
	mgr := account(t, s, "manager", false)
	tab := isolatedTab(t, b, "")
	gw := s.URLs.Gateway
	open(t, tab, gw+"/m")
	fill(t, tab, "login form", map[string]string{"phone": mgr.Phone, "password": mgr.Password})
	submit(t, tab, "log in", "#login")
	if p := pagePath(t, tab); p != "/m" {
		t.Fatalf("logged in, the app is at %s\n%s", p, pageState(tab))
	}
	var code struct {
		URL string `json:"url"`
	}
	if err := getJSON(context.Background(), mobileClient(t, tab, s), gw+"/m/api/code", &code); err != nil {
		t.Fatal(err)
	}
	tok := code.URL[strings.LastIndex(code.URL, "/")+1:]
	do(t, tab, "switch announcements on", chromedp.Click(chromedp.ID("announce-on")))
	eventually(t, tab, 10*time.Second, "announcements on", func() (bool, string) {
		st := attr(t, tab, "announce", "data-state")
		return st == "on", st + " " + textOf(t, tab, "announce-state")
	})
	other := stacktest.CreateOrder(t, s, stacktest.CommunityToken(t, s, "demo-both"), "wechat", 500, "oAnnounceOther")
	mine := stacktest.CreateOrder(t, s, tok, "wechat", 880, "oAnnounceMine")
	for _, id := range []string{other.OrderID, mine.OrderID} {
		if err := s.WeChat().Pay(id); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, tab, 15*time.Second, "the manager's payment listed", func() (bool, string) {
		n := run(t, tab, "count rows", chromedp.Evaluate[int](`document.querySelectorAll('#announce-list li[data-id^="`+mine.OrderID+`:"]').length`))
		return n == 1, textOf(t, tab, "announce-list")
	})
	if txt := textOf(t, tab, "announce-list"); !strings.Contains(txt, "8.80") || strings.Contains(txt, "5.00") {
		t.Errorf("the manager's list: %s", txt)
	}
	log := run(t, tab, "announceLog", chromedp.Evaluate[[]announceEntry](`window.announceLog || []`))
	if len(log) != 1 || !strings.HasPrefix(log[0].ID, mine.OrderID+":") || log[0].Mode != "clips" || strings.Join(log[0].Clips, " ") != "wechat n8 yuan n8 jiao" {
		t.Fatalf("queued %+v, want the manager's payment once, as clips", log)
	}
	mobileShots(t, tab, "announce")
}
