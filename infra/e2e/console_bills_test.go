package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/estatepay/estatepay/infra/local/stack"
	"github.com/estatepay/estatepay/infra/local/stacktest"
	"github.com/estatepay/estatepay/shared/domain/bill"
	"github.com/estatepay/estatepay/shared/store"
)

// The import page in headless Chromium: the demo admin uploads a houses
// file with a bad row — the page lists the row, column and message and
// nothing is written; then a good houses file and a bills file — the job's
// page follows the import (it refreshes itself, no script) until 导入完成,
// and the houses, bills and fee items pages show what was imported.
func TestConsoleImportHousesAndBills(t *testing.T) {
	b := consoleBrowser(t)
	s := stacktest.Start(t)
	admin := account(t, s, "admin", false)
	tab := isolatedTab(t, b, "")
	signIn(t, s, tab, admin.Phone, admin.Password, "/admin")
	ctx := context.Background()
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	importURL := s.URLs.Gateway + "/admin/communities/demo-both/imports"
	if st := open(t, tab, importURL); st != http.StatusOK {
		t.Fatalf("导入 answered %d", st)
	}
	consoleShots(t, tab, "import")

	// A bad row: refused, every problem listed, nothing written.
	bad := write("bad-houses.csv", "楼栋,单元,房号,业主姓名,手机号,面积\n66,1,101,钱一,13912345678,80\n66,1,102,钱二,1234,80\n66,1,103,钱三,,八十\n")
	do(t, tab, "choose the bad file", chromedp.SetUploadFiles(chromedp.ID("houses"), []string{bad}))
	if st := submit(t, tab, "upload the bad file", "#upload"); st != http.StatusUnprocessableEntity {
		t.Fatalf("the bad file answered %d\n%s", st, pageState(tab))
	}
	txt := bodyText(t, tab)
	for _, want := range []string{"未导入任何数据", "行号", "手机号", "业主手机号应为 11 位手机号码", "面积", "面积应为数字"} {
		if !strings.Contains(txt, want) {
			t.Fatalf("the refusal lacks %q:\n%s", want, txt)
		}
	}
	consoleShots(t, tab, "import-errors")
	if pg, err := s.Store().HouseRepo().ListHouses(ctx, stack.DemoCompanyID, "demo-both", "66", "", "", 10); err != nil || len(pg.Items) != 0 {
		t.Fatalf("the refused file wrote %d houses (%v)", len(pg.Items), err)
	}

	// A good pair of files: 300 houses, 10 months of 物业费 and 水费 (6,000
	// bills, amounts from the fee items): more than one request writes.
	var hs, bs strings.Builder
	hs.WriteString("\ufeff楼栋,单元,房号,业主姓名,手机号,面积\n")
	bs.WriteString("楼栋,单元,房号,收费项目,账期,金额,到期日\n")
	for i := range 300 {
		fmt.Fprintf(&hs, "66,%d,%d,业主%d,139%08d,%d\n", 1+i/100, 101+i%100, i, i, 60+i%50)
		for m := 1; m <= 10; m++ {
			fmt.Fprintf(&bs, "66,%d,%d,物业费,2025-%02d,,\n66,%d,%d,水费,2025-%02d,,\n", 1+i/100, 101+i%100, m, 1+i/100, 101+i%100, m)
		}
	}
	if st := open(t, tab, importURL); st != http.StatusOK {
		t.Fatalf("导入 again answered %d", st)
	}
	do(t, tab, "choose the good files", chromedp.SetUploadFiles(chromedp.ID("houses"), []string{write("houses.csv", hs.String())}),
		chromedp.SetUploadFiles(chromedp.ID("bills"), []string{write("bills.csv", bs.String())}))
	if st := submit(t, tab, "upload the good files", "#upload"); st != http.StatusOK {
		t.Fatalf("the good files answered %d\n%s", st, pageState(tab))
	}
	if p := pagePath(t, tab); !strings.HasPrefix(p, "/admin/imports/") || !strings.Contains(p, "step=") {
		t.Fatalf("after the upload, on %s", p)
	}
	if txt := bodyText(t, tab); !strings.Contains(txt, "导入完成") {
		if !strings.Contains(txt, "正在写入") {
			t.Fatalf("the job page:\n%s", txt)
		}
		consoleShots(t, tab, "import-progress")
	}
	eventually(t, tab, 90*time.Second, "the import to finish", func() (bool, string) {
		txt := run(t, tab, "page text", chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
		return strings.Contains(txt, "导入完成"), txt
	})
	bar := run(t, tab, "progress", chromedp.Evaluate[string](`(function(){var p=document.getElementById("progress");return p? p.value+"/"+p.max : ""})()`))
	if bar != "6300/6300" {
		t.Fatalf("the progress bar at the end: %q", bar)
	}
	consoleShots(t, tab, "import-done")
	n := 0
	if err := s.Store().BillRepo().EachCommunityBill(ctx, stack.DemoCompanyID, "demo-both", store.BillFilter{Building: "66"}, func(bill.Bill) error { n++; return nil }); err != nil || n != 6000 {
		t.Fatalf("%d bills of building 66 (want 6000): %v", n, err)
	}

	for _, p := range []struct{ path, want, shot string }{
		{"/admin/communities/demo-both/houses?building=66&unit=1", "66栋1单元101", "houses"},
		{"/admin/communities/demo-both/bills?period=2025-03&building=66&unit=2&room=150", "66栋2单元150", "bills"},
		{"/admin/communities/demo-both/fee-items?edit=" + "物业费", "修改收费项目", "fee-items"},
	} {
		if st := open(t, tab, s.URLs.Gateway+p.path); st != http.StatusOK || !strings.Contains(bodyText(t, tab), p.want) {
			t.Fatalf("%s answered %d:\n%s", p.path, st, bodyText(t, tab))
		}
		consoleShots(t, tab, p.shot)
	}
}
