package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/estatepay/estatepay/infra/local/gateway"
	"github.com/estatepay/estatepay/shared/domain/announce"
	"github.com/estatepay/estatepay/shared/store"
	"github.com/estatepay/estatepay/shared/web"
)

// fakeAnnouncements answers the polls from batches the test queues (one
// batch a poll), and records the cursors it was asked with.
type fakeAnnouncements struct {
	mu      sync.Mutex
	first   []store.Announcement
	batches [][]store.Announcement
	cursors []string
	expire  bool // the next poll finds the session expired
}

var errExpired = errors.New("expired")

func (f *fakeAnnouncements) Since(_ context.Context, audience, cursor string, _ time.Time) (store.AnnouncementPage, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if audience != store.CompanyAudience(coA) {
		return store.AnnouncementPage{}, fmt.Errorf("audience %s", audience)
	}
	f.cursors = append(f.cursors, cursor)
	next := fmt.Sprintf("c%d", len(f.cursors))
	if cursor == "" {
		return store.AnnouncementPage{Items: f.first, Cursor: next}, nil
	}
	if f.expire {
		return store.AnnouncementPage{}, errExpired
	}
	var items []store.Announcement
	if len(f.batches) > 0 {
		items, f.batches = f.batches[0], f.batches[1:]
	}
	return store.AnnouncementPage{Items: items, Cursor: next}, nil
}

func (f *fakeAnnouncements) queue(b ...[]store.Announcement) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.batches = append(f.batches, b...)
}

func testAnnouncement(id string, fen int64, at time.Time) store.Announcement {
	var keys []string
	for _, tok := range append([]string{announce.PrefixWeChat}, announce.Tokens(fen)...) {
		keys = append(keys, announce.KeyOf(tok))
	}
	return store.Announcement{EventID: id, CompanyID: coA, CommunityID: cmA, CommunityName: "小区A", Channel: "微信", AmountFen: fen,
		Text: announce.Display("wechat", "", fen), Spoken: announce.Spoken("wechat", "", fen), Tokens: keys, OccurredAt: at}
}

// speechStub stands in for the browser's speech synthesis with one zh-CN
// voice: what it is asked to say goes into window.__said, each utterance
// ending 20 ms later.
const speechStub = `(function () {
  window.__said = [];
  window.SpeechSynthesisUtterance = function (text) { this.text = text; };
  var voice = { lang: 'zh-CN', name: 'stub' };
  Object.defineProperty(window, 'speechSynthesis', { configurable: true, value: {
    getVoices: function () { return [voice]; },
    addEventListener: function () {},
    cancel: function () {},
    speak: function (u) { window.__said.push(u.text); setTimeout(function () { if (u.onend) { u.onend(); } }, 20); }
  } });
})();`

// The console page's script in Chromium against a fake of the polls: the
// payment before the switch is listed, not spoken; after it, each payment
// is spoken once, in order, with the browser's zh-CN voice, however often a
// poll repeats it; the list is newest first; an expired session turns the
// switch off and says so.
func TestAnnouncePageSpeaksEachPaymentOnce(t *testing.T) {
	tab := phoneBrowser(t)
	f := newFixture(t)
	fake := &fakeAnnouncements{}
	t0 := time.Date(2026, 12, 7, 2, 0, 0, 0, time.UTC)
	a, b, c, d := testAnnouncement("EPA:2", 100, t0), testAnnouncement("EPB:2", 12850, t0.Add(time.Second)),
		testAnnouncement("EPC:2", 1000520, t0.Add(2*time.Second)), testAnnouncement("EPD:2", 1, t0.Add(3*time.Second))
	fake.first = []store.Announcement{a}
	f.h.Announcements = fake
	inv := gateway.InvokerFunc(func(ctx context.Context, _ string, payload []byte) ([]byte, error) {
		var req web.Request
		if err := json.Unmarshal(payload, &req); err != nil {
			return nil, err
		}
		resp, err := f.h.Handle(ctx, req)
		if err != nil {
			return nil, err
		}
		if fake.expired() && strings.HasPrefix(req.RawPath, "/admin/api/announcements") {
			resp = web.Error(http.StatusUnauthorized, "unauthorized", "请先登录")
		}
		return json.Marshal(resp)
	})
	gw, err := gateway.New([]gateway.Route{{Method: "ANY", Path: "/admin", Function: "Admin"}, {Method: "ANY", Path: "/admin/{proxy+}", Function: "Admin"}}, inv, gateway.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gw)
	t.Cleanup(srv.Close)
	s := f.login("cashier-a")
	if _, err := chromedp.Call(tab, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: speechStub}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(tab, network.SetCookie, network.SetCookieParams{Name: SessionCookie, Value: s.id, URL: srv.URL + "/admin", Path: "/admin"}); err != nil {
		t.Fatal(err)
	}
	bstep(t, tab, "open 收款播报", chromedp.Navigate(srv.URL+"/admin/announce"), chromedp.WaitVisible(chromedp.ID("announce-on")))
	bwait(t, tab, "the earlier payment listed", `document.querySelectorAll('#announce-list tr').length === 1`)
	if st := bval(t, tab, "state", chromedp.Evaluate[string](`document.getElementById('announce-state').textContent`)); st != "请点击开启" {
		t.Fatalf("state before the switch: %q", st)
	}
	fake.queue([]store.Announcement{a}, []store.Announcement{b, c}, []store.Announcement{c, d}) // A again, C twice
	bstep(t, tab, "switch on", chromedp.Click(chromedp.ID("announce-on")))
	bwait(t, tab, "three payments said", `window.__said.length >= 4 && document.getElementById('announce').getAttribute('data-spoken') === '3'`)
	said := bval(t, tab, "said", chromedp.Evaluate[[]string](`window.__said`))
	want := []string{"语音播报已开启", b.Spoken, c.Spoken, d.Spoken}
	if strings.Join(said, "|") != strings.Join(want, "|") {
		t.Fatalf("said %q, want %q", said, want)
	}
	if m := bval(t, tab, "mode", chromedp.Evaluate[string](`document.getElementById('announce').getAttribute('data-mode')`)); m != "speech" {
		t.Errorf("mode %q with a zh-CN voice", m)
	}
	rows := bval(t, tab, "rows", chromedp.Evaluate[[]string](`Array.prototype.map.call(document.querySelectorAll('#announce-list tr'), function (r) { return r.getAttribute('data-id'); })`))
	if strings.Join(rows, " ") != "EPD:2 EPC:2 EPB:2 EPA:2" {
		t.Errorf("list %v, want newest first", rows)
	}
	if st := bval(t, tab, "state", chromedp.Evaluate[string](`document.getElementById('announce-state').textContent`)); st != "播报已开启（浏览器语音）" {
		t.Errorf("state %q", st)
	}
	shots(t, tab, "announce-console")
	fake.setExpired()
	bwait(t, tab, "the expired session said", `document.getElementById('announce-state').textContent.indexOf('登录已过期') === 0 && !document.getElementById('announce-on').checked`)
	fake.mu.Lock()
	cursors := fake.cursors
	fake.mu.Unlock()
	if len(cursors) < 4 || cursors[0] != "" || cursors[1] != "c1" {
		t.Errorf("cursors %q: the first poll without, then each answer's", cursors)
	}
}

func (f *fakeAnnouncements) expired() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.expire
}

func (f *fakeAnnouncements) setExpired() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.expire = true
}
