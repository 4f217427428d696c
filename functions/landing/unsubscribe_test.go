package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/estatepay/estatepay/shared/domain/house"
	"github.com/estatepay/estatepay/shared/domain/reminder"
	"github.com/estatepay/estatepay/shared/web"
)

type fakeUnsub struct {
	houses map[string]house.House
	out    map[string]string // house -> by
}

func (f *fakeUnsub) HouseByID(_ context.Context, id string) (house.House, error) {
	h, ok := f.houses[id]
	if !ok {
		return house.House{}, house.ErrNotFound
	}
	return h, nil
}

func (f *fakeUnsub) SetOptOut(_ context.Context, companyID, houseID string, out bool, by string, _ time.Time) error {
	if f.houses[houseID].CompanyID != companyID || !out {
		panic("unexpected opt-out " + companyID + " " + houseID)
	}
	f.out[houseID] = by
	return nil
}

// The 退订 link: a GET asks and changes nothing, a POST opts the house out;
// a forged or tampered token, another key or an unknown house is 404 and
// changes nothing.
func TestUnsubscribeLink(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	h1 := house.House{ID: "Hone", CompanyID: "co-1", CommunityID: "m1", Building: "1", Room: "101"}
	h2 := house.House{ID: "Htwo", CompanyID: "co-2", CommunityID: "m2", Building: "2", Room: "202"}
	f := &fakeUnsub{houses: map[string]house.House{h1.ID: h1, h2.ID: h2}, out: map[string]string{}}
	h := &Handler{Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Unsub: &Unsubscribe{Key: key, Reminders: f, Now: time.Now, Names: func(context.Context, string) string { return "阳光花园" }}}
	call := func(method, token string) web.Response {
		req := web.Request{RouteKey: method + " /u/{token}", PathParameters: map[string]string{"token": token}}
		req.RequestContext.HTTP.Method = method
		r, err := h.Handle(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	tok := reminder.UnsubToken(key, "co-1", "Hone")
	if r := call(http.MethodGet, tok); r.StatusCode != 200 || !strings.Contains(r.Body, "1栋101 不再接收") || !strings.Contains(r.Body, `action="/u/`+tok+`"`) || len(f.out) != 0 {
		t.Fatalf("GET: %d %s %v", r.StatusCode, r.Body, f.out)
	}
	other := reminder.UnsubToken([]byte("another key, 32 bytes long......"), "co-1", "Hone")
	forged := "Htwo" + tok[strings.Index(tok, "."):]  // house one's signature on house two
	cross := reminder.UnsubToken(key, "co-1", "Htwo") // signed for the wrong company
	for _, bad := range []string{other, forged, cross, "Hnone.AAAAAAAAAAAAAAAAAAAAAA", "nonsense", tok + "x"} {
		if r := call(http.MethodPost, bad); r.StatusCode != 404 || !strings.Contains(r.Body, "退订链接无效") {
			t.Fatalf("POST %q: %d %s", bad, r.StatusCode, r.Body)
		}
	}
	if len(f.out) != 0 {
		t.Fatalf("a bad token opted out %v", f.out)
	}
	if r := call(http.MethodPost, tok); r.StatusCode != 200 || !strings.Contains(r.Body, "已退订") || f.out["Hone"] != "resident" {
		t.Fatalf("POST: %d %s %v", r.StatusCode, r.Body, f.out)
	}
	h.Unsub = nil
	if r := call(http.MethodGet, tok); r.StatusCode != 404 {
		t.Fatalf("without the link's wiring: %d", r.StatusCode)
	}
}
