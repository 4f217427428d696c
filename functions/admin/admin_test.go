package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/estatepay/estatepay/infra/local/stack"
	"github.com/estatepay/estatepay/infra/local/stacktest"
	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/order"
	"github.com/estatepay/estatepay/shared/store"
)

// recordView and pageView decode the records API as a client does: paid_at
// is an RFC 3339 instant (ISO 8601 with the +08:00 offset).
type recordView struct {
	OrderID       string            `json:"order_id"`
	AmountFen     int64             `json:"amount_fen"`
	Amount        string            `json:"amount"`
	Channel       domain.Channel    `json:"channel"`
	Status        string            `json:"status"`
	PaidAt        string            `json:"paid_at"`
	ProviderTxnID string            `json:"provider_txn_id"`
	PayerID       string            `json:"payer_id"`
	Fields        map[string]string `json:"fields"`
}

type pageView struct {
	CommunityID string       `json:"community_id"`
	Community   string       `json:"community"`
	Payments    []recordView `json:"payments"`
	NextCursor  string       `json:"next_cursor"`
}

type reply struct {
	status int
	header http.Header
	raw    string
	page   pageView
}

func get(t *testing.T, u, auth string) reply {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r := reply{status: resp.StatusCode, header: resp.Header, raw: string(b)}
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(b, &r.page); err != nil {
			t.Fatalf("decode %s: %v", b, err)
		}
	}
	return r
}

// seedPaid creates n paid orders for community through the order repository,
// paid a minute apart, and returns their ids newest first.
func seedPaid(t *testing.T, st *store.Store, community, prefix string, n int, start time.Time) []string {
	t.Helper()
	ctx := context.Background()
	repo := st.OrderRepo()
	var ids []string
	for i := range n {
		id := fmt.Sprintf("EP%s%s%02d", prefix, strings.Repeat("Q", 24-len(prefix)), i) // EP + 26 chars like real ids
		o, err := order.New(order.Order{ID: id, CommunityID: community, CompanyID: stack.DemoCompanyID, CodeToken: "t", Channel: domain.Alipay,
			IfaceID: "demo-alipay", MerchantID: stack.DemoAlipaySellerID, AppID: stack.DemoAlipayAppID, AmountFen: int64(100 * (i + 1)),
			RequestHash: "h"}, start, 10*time.Minute, 2*time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if i == n-1 {
			o.Fields = map[string]string{"room": "3-201"} // payer fields (M5) show in the newest record
		}
		if _, err := repo.Create(ctx, o); err != nil {
			t.Fatalf("create %s: %v", id, err)
		}
		p := order.Payment{ProviderTxnID: "TXN" + id, AmountFen: o.AmountFen, PaidAt: start.Add(time.Duration(i) * time.Minute),
			MerchantID: o.MerchantID, AppID: o.AppID, PayerID: "2088buyer"}
		if _, err := repo.Update(ctx, id, func(o *order.Order) error { return o.Pay(p) }); err != nil {
			t.Fatalf("pay %s: %v", id, err)
		}
		ids = append([]string{id}, ids...)
	}
	return ids
}

// paidAt parses a record's paid_at as RFC 3339.
func paidAt(t *testing.T, r recordView) time.Time {
	t.Helper()
	at, err := time.Parse(time.RFC3339, r.PaidAt)
	if err != nil {
		t.Fatalf("record %s: paid_at %q is not RFC 3339: %v", r.OrderID, r.PaidAt, err)
	}
	return at
}

func TestAdmin(t *testing.T) {
	s := stacktest.Start(t)
	base := s.URLs.Gateway + "/admin/api/communities/"
	token := s.Keys().AdminToken
	if b, err := os.ReadFile(s.Description().Admin.TokenFile); err != nil || strings.TrimSpace(string(b)) != token {
		t.Fatalf("token file %q: %v (content differs from Keys().AdminToken)", s.Description().Admin.TokenFile, err)
	}
	auth := "Bearer " + token
	start := time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)
	want := seedPaid(t, s.Store(), "demo-both", "B", 5, start)
	seedPaid(t, s.Store(), "demo-alipay-only", "A", 2, start.Add(30*time.Second))
	// An unpaid order is not a record.
	unpaid, err := order.New(order.Order{ID: "EPUNPAIDUNPAIDUNPAIDUNPAIDUN", CommunityID: "demo-both", CompanyID: stack.DemoCompanyID,
		Channel: domain.Alipay, IfaceID: "demo-alipay", MerchantID: stack.DemoAlipaySellerID, AppID: stack.DemoAlipayAppID, AmountFen: 1}, start, 10*time.Minute, 2*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Store().OrderRepo().Create(context.Background(), unpaid); err != nil {
		t.Fatal(err)
	}

	t.Run("auth", func(t *testing.T) {
		for name, h := range map[string]string{
			"none":         "",
			"wrong token":  "Bearer " + strings.Repeat("0", len(token)),
			"token prefix": "Bearer " + token[:len(token)-1],
			"token suffix": "Bearer " + token + "x",
			"basic scheme": "Basic " + token,
			"no scheme":    token,
			"empty bearer": "Bearer ",
		} {
			r := get(t, base+"demo-both/payments", h)
			if r.status != http.StatusUnauthorized {
				t.Errorf("%s: status %d, want 401", name, r.status)
				continue
			}
			if r.header.Get("WWW-Authenticate") == "" || strings.Contains(r.raw, "EP") {
				t.Errorf("%s: reply %q headers %v", name, r.raw, r.header)
			}
		}
		// Unauthenticated callers learn nothing about which communities exist.
		if r := get(t, base+"no-such-community/payments", ""); r.status != http.StatusUnauthorized {
			t.Errorf("unknown community without token: %d", r.status)
		}
	})

	t.Run("newest first", func(t *testing.T) {
		r := get(t, base+"demo-both/payments", auth)
		if r.status != http.StatusOK {
			t.Fatalf("status %d %s", r.status, r.raw)
		}
		if r.page.CommunityID != "demo-both" || r.page.Community != "阳光花园" {
			t.Errorf("page header %+v", r.page)
		}
		var got []string
		for _, p := range r.page.Payments {
			got = append(got, p.OrderID)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("records %v, want %v (newest first)", got, want)
		}
		first := r.page.Payments[0]
		// Times are Asia/Shanghai with the offset: 08:04 UTC is 16:04 +08:00.
		if first.AmountFen != 500 || first.Amount != "5.00" || first.Channel != domain.Alipay || first.Status != "PAID" || first.PaidAt != "2025-03-01T16:04:00+08:00" ||
			!paidAt(t, first).Equal(start.Add(4*time.Minute)) || first.ProviderTxnID != "TXN"+first.OrderID || first.PayerID != "2088buyer" {
			t.Errorf("first record %+v", first)
		}
		for i, p := range r.page.Payments {
			if at := start.Add(time.Duration(len(want)-1-i) * time.Minute); !paidAt(t, p).Equal(at) {
				t.Errorf("record %s paid_at %s, want the instant %v", p.OrderID, p.PaidAt, at)
			}
		}
		if len(first.Fields) != 1 || first.Fields["room"] != "3-201" || r.page.Payments[1].Fields != nil {
			t.Errorf("payer fields in records: %v, %v", first.Fields, r.page.Payments[1].Fields)
		}
		if !strings.Contains(r.raw, `"paid_at":"2025-03-01T16:04:00+08:00"`) || strings.Contains(r.raw, `Z"`) {
			t.Errorf("raw times not +08:00: %s", r.raw)
		}
		if r.page.NextCursor != "" {
			t.Errorf("single page with a cursor %q", r.page.NextCursor)
		}
	})

	t.Run("pagination", func(t *testing.T) {
		seen := map[string]int{}
		var paged []string
		cursor := ""
		for pages := 1; ; pages++ {
			u := base + "demo-both/payments?limit=2"
			if cursor != "" {
				u += "&cursor=" + url.QueryEscape(cursor)
			}
			r := get(t, u, auth)
			if r.status != http.StatusOK {
				t.Fatalf("page %d: %d %s", pages, r.status, r.raw)
			}
			if len(r.page.Payments) > 2 {
				t.Fatalf("page %d has %d records", pages, len(r.page.Payments))
			}
			for _, p := range r.page.Payments {
				seen[p.OrderID]++
				paged = append(paged, p.OrderID)
			}
			if r.page.NextCursor == "" {
				break
			}
			if pages > 10 {
				t.Fatal("pagination never ends")
			}
			cursor = r.page.NextCursor
		}
		for _, id := range want {
			if seen[id] != 1 {
				t.Errorf("record %s seen %d times", id, seen[id])
			}
		}
		if fmt.Sprint(paged) != fmt.Sprint(want) {
			t.Errorf("paged order %v, want %v", paged, want)
		}
	})

	t.Run("bad input", func(t *testing.T) {
		for _, q := range []string{"limit=0", "limit=101", "limit=abc", "limit=-1", "limit=1.5", "limit=99999999999999999999"} {
			if r := get(t, base+"demo-both/payments?"+q, auth); r.status != http.StatusBadRequest || !strings.Contains(r.raw, "limit") {
				t.Errorf("%s: %d %s", q, r.status, r.raw)
			}
		}
		for _, c := range []string{"garbage", "!!!", "eyJzIjoiIn0", url.QueryEscape("{\"s\":\"x\",\"i\":\"y\"}")} {
			if r := get(t, base+"demo-both/payments?cursor="+c, auth); r.status != http.StatusBadRequest || !strings.Contains(r.raw, "cursor") {
				t.Errorf("cursor %s: %d %s", c, r.status, r.raw)
			}
		}
		if r := get(t, base+"no-such-community/payments", auth); r.status != http.StatusNotFound {
			t.Errorf("unknown community: %d %s", r.status, r.raw)
		}
	})

	t.Run("other community", func(t *testing.T) {
		r := get(t, base+"demo-alipay-only/payments", auth)
		if r.status != http.StatusOK || len(r.page.Payments) != 2 {
			t.Fatalf("demo-alipay-only: %d %s", r.status, r.raw)
		}
		for _, p := range r.page.Payments {
			for _, id := range want {
				if p.OrderID == id {
					t.Errorf("demo-both record %s listed under demo-alipay-only", id)
				}
			}
		}
		if r := get(t, base+"demo-none/payments", auth); r.status != http.StatusOK || len(r.page.Payments) != 0 || !strings.Contains(r.raw, `"payments":[]`) {
			t.Errorf("demo-none: %d %s", r.status, r.raw)
		}
	})
}
