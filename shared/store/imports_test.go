package store_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/estatepay/estatepay/shared/bills"
	"github.com/estatepay/estatepay/shared/domain/bill"
	"github.com/estatepay/estatepay/shared/domain/house"
	"github.com/estatepay/estatepay/shared/store"
)

var importT0 = time.Date(2026, 11, 29, 2, 0, 0, 0, time.UTC)

func newImporter(st *store.Store) (*bills.Importer, *time.Time) {
	now := importT0
	var seq atomic.Int64
	return &bills.Importer{Store: st.ImportRepo(), Now: func() time.Time { return now },
		NewID:     func() string { return fmt.Sprintf("job%d-%d", time.Now().UnixNano(), seq.Add(1)) },
		ChunkRows: 7, ProgressEvery: 3}, &now
}

func gbk(t *testing.T, s string) []byte {
	b, err := simplifiedchinese.GBK.NewEncoder().Bytes([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func xlsx(t *testing.T, rows [][]any) []byte {
	f := excelize.NewFile()
	for i, r := range rows {
		cell, _ := excelize.CoordinatesToCellName(1, i+1)
		if err := f.SetSheetRow("Sheet1", cell, &r); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := f.Write(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func runAll(t *testing.T, im *bills.Importer, j bills.Job) bills.Job {
	t.Helper()
	j, err := im.Run(context.Background(), j.CompanyID, j.ID, importT0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// Houses from a GBK CSV and bills from an XLSX, both in one import; every
// row written, then the same files again change nothing and keep a paid
// bill paid; a file with bad rows writes nothing and names each row.
func TestImportHousesAndBills(t *testing.T) {
	st := newStore(t)
	ctx := context.Background()
	co, cm := fmt.Sprintf("co%d", time.Now().UnixNano()), "cm1"
	hr := st.HouseRepo()
	fee, err := bill.NewFeeItem(bill.FeeItem{CompanyID: co, CommunityID: cm, Name: "物业费", PerM2Fen: 250, Cycle: bill.Monthly}, importT0)
	if err != nil {
		t.Fatal(err)
	}
	if err := hr.PutFeeItem(ctx, fee); err != nil {
		t.Fatal(err)
	}
	var hcsv strings.Builder
	hcsv.WriteString("楼栋,单元,房号,业主姓名,手机号,面积\r\n")
	for i := 1; i <= 10; i++ {
		fmt.Fprintf(&hcsv, "%d,1,%d01,业主%d,1380000%04d,89.5\r\n", i%3+1, i, i, i)
	}
	brows := [][]any{{"楼栋", "单元", "房号", "收费项目", "账期", "金额", "到期日"}}
	for i := 1; i <= 10; i++ {
		brows = append(brows, []any{fmt.Sprint(i%3 + 1), "1", fmt.Sprintf("%d01", i), "物业费", "2026年11月", "", "2026-11-30"},
			[]any{fmt.Sprint(i%3 + 1), "1", fmt.Sprintf("%d01", i), "水费", "2026/12", "35.5", ""})
	}
	files := bills.Files{Houses: gbk(t, hcsv.String()), HousesName: "houses.csv", Bills: xlsx(t, brows), BillsName: "bills.xlsx"}
	im, _ := newImporter(st)
	j, err := im.Start(ctx, co, cm, files, "staff:admin")
	if err != nil || j.State != bills.JobWriting || j.Total != 30 || j.Houses != 10 || j.Bills != 20 {
		t.Fatalf("start: %+v %v", j, err)
	}
	j = runAll(t, im, j)
	if j.State != bills.JobDone || j.Written != 30 || j.Created != 30 || j.Percent() != 100 {
		t.Fatalf("run: %+v", j)
	}
	hid := house.ID(co, cm, "2", "1", "101")
	got, err := st.BillRepo().Get(ctx, bill.IDFor(co, hid, "物业费", "2026-11"))
	if err != nil || got.AmountFen != 22375 /* 89.5 × 2.50 = 223.75 */ || got.Building != "2" || got.DueDate != "2026-11-30" {
		t.Fatalf("area-priced bill: %+v %v", got, err)
	}
	water, err := st.BillRepo().Get(ctx, bill.IDFor(co, hid, "水费", "2026-12"))
	if err != nil || water.AmountFen != 3550 || water.DueDate != "2026-12-31" {
		t.Fatalf("water bill: %+v %v", water, err)
	}
	// Paid meanwhile; the same files again: nothing new, the paid bill stays paid.
	if _, err := st.BillRepo().PayAll(ctx, "order-1", []string{water.ID}, importT0); err != nil {
		t.Fatal(err)
	}
	j2, err := im.Start(ctx, co, cm, files, "staff:admin")
	if err != nil {
		t.Fatal(err)
	}
	j2 = runAll(t, im, j2)
	if j2.State != bills.JobDone || j2.Written != 30 || j2.Created != 0 {
		t.Fatalf("re-run: %+v", j2)
	}
	if w, _ := st.BillRepo().Get(ctx, water.ID); w.Status != bill.Paid {
		t.Fatalf("re-import touched a paid bill: %s", w.Status)
	}

	// Filters and cursors.
	all := collectBills(t, st, co, cm, store.BillFilter{}, 4)
	if len(all) != 20 {
		t.Fatalf("all bills: %d", len(all))
	}
	for name, tc := range map[string]struct {
		f    store.BillFilter
		want int
	}{
		"period":          {store.BillFilter{Period: "2026-11"}, 10},
		"period+building": {store.BillFilter{Period: "2026-12", Building: "2"}, 4},
		"building":        {store.BillFilter{Building: "2", Unit: "1"}, 8},
		"status":          {store.BillFilter{Status: bill.Paid}, 1},
		"house":           {store.BillFilter{HouseID: hid}, 2},
		"house+period":    {store.BillFilter{HouseID: hid, Period: "2026-12", Status: bill.Paid}, 1},
	} {
		if got := collectBills(t, st, co, cm, tc.f, 2); len(got) != tc.want {
			t.Errorf("%s: %d bills, want %d", name, len(got), tc.want)
		}
	}
	// Another company sees nothing; a cursor of another walk is refused.
	if got := collectBills(t, st, "other", cm, store.BillFilter{}, 5); len(got) != 0 {
		t.Errorf("another company sees %d bills", len(got))
	}
	p, _ := st.BillRepo().CommunityBills(ctx, co, cm, store.BillFilter{}, "", 3)
	if _, err := st.BillRepo().CommunityBills(ctx, "other", cm, store.BillFilter{}, p.Next, 3); err != store.ErrBadCursor {
		t.Errorf("a cursor of another company's walk: %v", err)
	}
	if _, err := im.Run(ctx, "other", j.ID, importT0.Add(time.Hour)); err != bills.ErrJobNotFound {
		t.Errorf("another company's job: %v", err)
	}

	// Bad rows: every one reported, nothing written.
	bad := "楼栋,单元,房号,收费项目,账期,金额\n2,1,101,物业费,2026-13,\n2,1,999,物业费,2027-01,\n2,1,101,停车费,2027-01,\n2,1,101,水费,2027-01,1.234\n2,1,101,水费,2027-02,5\n2,1,101,水费,2027-02,5\n"
	j3, err := im.Start(ctx, co, cm, bills.Files{Bills: []byte("\ufeff" + bad)}, "staff:admin")
	if err != nil || j3.State != bills.JobFailed {
		t.Fatalf("bad file: %+v %v", j3, err)
	}
	want := []string{"第 2 行【账期】", "第 3 行【房号】：房屋 2栋1单元999 不存在", "第 4 行【金额】：收费项目“停车费”未设置", "第 5 行【金额】", "第 7 行：2栋1单元101 2027-02 水费 与第 6 行重复"}
	if j3.ErrorCount != len(want) {
		t.Errorf("errors: %+v", j3.Errors)
	}
	for i, w := range want {
		if i >= len(j3.Errors) || !strings.HasPrefix(j3.Errors[i].String(), w) {
			t.Errorf("error %d: %v, want %s…", i, j3.Errors, w)
		}
	}
	if got := collectBills(t, st, co, cm, store.BillFilter{Period: "2027-02"}, 5); len(got) != 0 {
		t.Errorf("a failed import wrote %d bills", len(got))
	}
	if stored, _ := st.ImportRepo().GetJob(ctx, co, j3.ID); stored.State != bills.JobFailed || stored.ErrorCount != 5 {
		t.Errorf("stored failed job: %+v", stored)
	}
}

// A job stopped part way (its time ran out) completes when run again, and
// a second runner waits while another holds the community's lock.
func TestImportResumes(t *testing.T) {
	st := newStore(t)
	ctx := context.Background()
	co, cm := fmt.Sprintf("co%d", time.Now().UnixNano()), "cm1"
	var csv strings.Builder
	csv.WriteString("楼栋,房号,业主姓名\n")
	for i := range 40 {
		fmt.Fprintf(&csv, "1,%d,张%d\n", 100+i, i)
	}
	im, now := newImporter(st)
	j, err := im.Start(ctx, co, cm, bills.Files{Houses: []byte(csv.String())}, "staff:a")
	if err != nil {
		t.Fatal(err)
	}
	// until already past: the first slice is written, then it stops.
	j, err = im.Run(ctx, co, j.ID, importT0.Add(-time.Second))
	if err != nil || j.State != bills.JobWriting || j.Written != 0 {
		t.Fatalf("nothing due: %+v %v", j, err)
	}
	if err := st.ImportRepo().Lock(ctx, co, cm, "someone-else", importT0.Add(time.Minute), importT0); err != nil {
		t.Fatal(err)
	}
	if j, _ = im.Run(ctx, co, j.ID, importT0.Add(time.Hour)); j.Written != 0 || j.State != bills.JobWriting {
		t.Fatalf("ran under another's lock: %+v", j)
	}
	*now = importT0.Add(2 * time.Minute) // the other lock expired
	j = runAll2(t, im, j, *now)
	if j.State != bills.JobDone || j.Written != 40 || j.Created != 40 {
		t.Fatalf("resumed: %+v", j)
	}
	page, _ := st.HouseRepo().ListHouses(ctx, co, cm, "", "", "", 100)
	if len(page.Items) != 40 {
		t.Fatalf("houses: %d", len(page.Items))
	}
}

func runAll2(t *testing.T, im *bills.Importer, j bills.Job, now time.Time) bills.Job {
	j, err := im.Run(context.Background(), j.CompanyID, j.ID, now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func collectBills(t *testing.T, st *store.Store, co, cm string, f store.BillFilter, limit int) []bill.Bill {
	t.Helper()
	var out []bill.Bill
	cursor := ""
	for {
		p, err := st.BillRepo().CommunityBills(context.Background(), co, cm, f, cursor, limit)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, p.Items...)
		if p.Next == "" {
			break
		}
		cursor = p.Next
	}
	var each int
	if err := st.BillRepo().EachCommunityBill(context.Background(), co, cm, f, func(bill.Bill) error { each++; return nil }); err != nil || each != len(out) {
		t.Fatalf("EachCommunityBill: %d, %v; pages: %d", each, err, len(out))
	}
	return out
}
