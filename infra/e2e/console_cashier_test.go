package e2e

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/estatepay/estatepay/infra/local/stack"
	"github.com/estatepay/estatepay/infra/local/stacktest"
	"github.com/estatepay/estatepay/shared/domain/bill"
)

// The cashier desk (C8) through its pages: the demo cashier finds a house
// of 阳光花园, keeps its two unpaid bills ticked, takes the money in cash and
// gets the receipt; the bills are paid by that entry.
func TestConsoleCashierMarksBillsPaidInCash(t *testing.T) {
	b := consoleBrowser(t) // first: a missing browser fails before the stack starts
	s := stacktest.Start(t)
	h, billIDs := stacktest.SeedHouseBills(t, s.Store(), stack.DemoCompanyID, "demo-both", "77", "2", "1501", 26800, 4550)
	cashier := account(t, s, "cashier", false)

	tab := isolatedTab(t, b, "")
	signIn(t, s, tab, cashier.Phone, cashier.Password, "/admin")
	if st := open(t, tab, s.URLs.Gateway+"/admin/cashier"); st != http.StatusOK {
		t.Fatalf("收银台 answered %d\n%s", st, pageState(tab))
	}
	fill(t, tab, "find the house", map[string]string{"community": "demo-both", "building": "77", "unit": "2", "room": "1501"})
	if st := submit(t, tab, "find the house", `form[action="/admin/cashier"]`); st != http.StatusOK || !strings.Contains(bodyText(t, tab), "77栋2单元1501") {
		t.Fatalf("search answered %d\n%s", st, pageState(tab))
	}
	consoleShots(t, tab, "cashier-search")
	if st := open(t, tab, s.URLs.Gateway+"/admin/cashier/houses/"+h.ID); st != http.StatusOK {
		t.Fatalf("the house's desk answered %d", st)
	}
	if txt := bodyText(t, tab); !strings.Contains(txt, "未缴合计 313.50 元") || !strings.Contains(txt, "业主1501") {
		t.Fatalf("the house's desk:\n%s", txt)
	}
	consoleShots(t, tab, "cashier-house")
	if st := submit(t, tab, "collect in cash", `form[action="/admin/cashier/houses/`+h.ID+`/entries"]`); st != http.StatusOK {
		t.Fatalf("collecting answered %d\n%s", st, pageState(tab))
	}
	if p := pagePath(t, tab); !strings.HasPrefix(p, "/admin/cashier/entries/") {
		t.Fatalf("after collecting, on %s", p)
	}
	txt := bodyText(t, tab)
	for _, want := range []string{"已收款", "收 据", "阳光花园", "77栋2单元1501", "费用1", "268.00", "45.50", "313.50", "现金", cashier.Name} {
		if !strings.Contains(txt, want) {
			t.Fatalf("the receipt lacks %q:\n%s", want, txt)
		}
	}
	consoleShots(t, tab, "cashier-receipt")
	for _, id := range billIDs {
		bl, err := s.Store().BillRepo().Get(context.Background(), id)
		if err != nil || bl.Status != bill.Paid || bl.PaidBy.EntryID == "" || !strings.Contains(pagePath(t, tab), bl.PaidBy.EntryID) {
			t.Fatalf("bill %s after the receipt: %+v %v", id, bl, err)
		}
	}
}
