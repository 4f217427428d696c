package stack_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/estatepay/estatepay/infra/local/stack"
	"github.com/estatepay/estatepay/infra/local/stacktest"
	"github.com/estatepay/estatepay/shared/domain/bill"
	"github.com/estatepay/estatepay/shared/domain/notice"
	"github.com/estatepay/estatepay/shared/store"
)

// The demo's payment notices (README "Contracts": stack.json demo.notices):
// one per house of 阳光花园 with unpaid bills, each with exactly id, url,
// total_fen (and house); one partly and one fully paid at the cashier desk;
// every URL opens the notice's pay page for Alipay; a restart makes no new
// notice and lists the same ones.
func TestDemoNotices(t *testing.T) {
	dir := t.TempDir()
	s := stacktest.Start(t, stacktest.Options{StateDir: dir})
	b, err := os.ReadFile(filepath.Join(dir, "stack.json"))
	if err != nil {
		t.Fatal(err)
	}
	var desc struct {
		Demo struct {
			Notices []map[string]any `json:"notices"`
		} `json:"demo"`
	}
	if err := json.Unmarshal(b, &desc); err != nil {
		t.Fatal(err)
	}
	ns := desc.Demo.Notices
	if len(ns) != 20 {
		t.Fatalf("%d demo notices, want one per house (20): %s", len(ns), b)
	}
	var paid, partly, open int
	for _, n := range ns {
		for k := range n {
			if k != "id" && k != "url" && k != "total_fen" && k != "house" {
				t.Fatalf("demo.notices key %q: %v", k, n)
			}
		}
		id, _ := n["id"].(string)
		u, _ := n["url"].(string)
		total, ok := n["total_fen"].(float64)
		if id == "" || u != notice.NoticeURL(s.URLs.Gateway, id) || !ok || total != float64(int64(total)) {
			t.Fatalf("demo notice %v", n)
		}
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		req.Header.Set("User-Agent", "Mozilla/5.0 (iPhone) AlipayClient/10.5.36")
		resp, err := stacktest.HTTPClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), "阳光花园") {
			t.Fatalf("%s answered %d:\n%.500s", u, resp.StatusCode, page)
		}
		yuan := fmt.Sprintf("%d.%02d", int64(total)/100, int64(total)%100)
		if total > 0 && !strings.Contains(string(page), yuan) {
			t.Fatalf("%s does not ask %s:\n%.2000s", u, yuan, page)
		}
		sum := summary(t, s, id)
		if sum.OpenFen != int64(total) {
			t.Fatalf("notice %s asks %d, stack.json says %v", id, sum.OpenFen, total)
		}
		switch {
		case sum.Settled:
			paid++
		case sum.PaidFen > 0:
			partly++
		default:
			open++
		}
	}
	if paid != 1 || partly != 1 || open != 18 {
		t.Fatalf("paid %d, partly paid %d, open %d; want 1, 1, 18", paid, partly, open)
	}
	// The bills were imported: 20 houses, 3 months of 物业费 and 水费, 停车费
	// for 7 houses.
	n := 0
	if err := s.Store().BillRepo().EachCommunityBill(context.Background(), stack.DemoCompanyID, "demo-both", store.BillFilter{}, func(bill.Bill) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	if n != 3*(20*2+7) {
		t.Fatalf("%d demo bills, want %d", n, 3*(20*2+7))
	}

	first := s.Demo.Notices
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := stacktest.Start(t, stacktest.Options{StateDir: dir})
	idsAndTotals := func(ns []stack.DemoNotice) string { // the port changes with a restart
		var b strings.Builder
		for _, n := range ns {
			fmt.Fprintf(&b, "%s %d %s;", n.ID, n.TotalFen, n.House)
		}
		return b.String()
	}
	if idsAndTotals(s2.Demo.Notices) != idsAndTotals(first) {
		t.Fatalf("after a restart:\n%v\nwas\n%v", s2.Demo.Notices, first)
	}
	pg, err := s2.Store().HouseRepo().ListNotices(context.Background(), stack.DemoCompanyID, "demo-both", "", "", "", 100)
	if err != nil || len(pg.Items) != 20 {
		t.Fatalf("%d notices stored after a restart (want 20): %v", len(pg.Items), err)
	}
}

func summary(t *testing.T, s *stack.Stack, id string) notice.Summary {
	t.Helper()
	ctx := context.Background()
	n, err := s.Store().HouseRepo().GetNotice(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	bs, err := s.Store().BillRepo().ListByHouse(ctx, n.CompanyID, n.HouseID)
	if err != nil {
		t.Fatal(err)
	}
	return notice.Summarize(n, bs, n.CreatedAt)
}
