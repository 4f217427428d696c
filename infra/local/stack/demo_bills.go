package stack

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/estatepay/estatepay/shared/bills"
	"github.com/estatepay/estatepay/shared/domain/bill"
	"github.com/estatepay/estatepay/shared/domain/cashier"
	"github.com/estatepay/estatepay/shared/domain/house"
	"github.com/estatepay/estatepay/shared/domain/notice"
	"github.com/estatepay/estatepay/shared/store"
)

// DemoNotice is one seeded payment notice of 阳光花园 as .local/stack.json
// lists it under demo.notices (README "Contracts"): its id, its pay URL
// (notice.NoticeURL of the gateway) and what it asks now.
type DemoNotice struct {
	ID       string `json:"id"`
	URL      string `json:"url"`
	TotalFen int64  `json:"total_fen"` // what paying the notice now costs: 0 once paid
	House    string `json:"house,omitempty"`
}

// The demo's houses and bills: 阳光花园 (demo-both) has 20 houses in
// buildings 1 and 2 (units 1 and 2, rooms 101–502 in turn), fee items
// 物业费 (per m²), 水费 and 停车费 (fixed), and three months of bills — 物业费
// and 水费 for every house, 停车费 for every third — imported through the
// importer, as the console's 导入 does.
const (
	demoBillsCommunity = "demo-both"
	demoHouses         = 20
)

// DemoPeriods are the months the demo bills.
var DemoPeriods = []string{"2026-09", "2026-10", "2026-11"}

var demoFeeItems = []bill.FeeItem{
	{Name: "物业费", PerM2Fen: 250, Cycle: bill.Monthly},
	{Name: "水费", FixedFen: 3000, Cycle: bill.Monthly},
	{Name: "停车费", FixedFen: 15000, Cycle: bill.Monthly},
}

var demoSurnames = []string{"张", "王", "李", "赵", "刘", "陈", "杨", "黄", "周", "吴"}

// demoPlace is house i's building, unit and room.
func demoPlace(i int) (building, unit, room string) {
	return fmt.Sprint(1 + i/10), fmt.Sprint(1 + i/5%2), fmt.Sprintf("%d%02d", 1+i%5, 1)
}

// DemoHousesCSV and DemoBillsCSV are the demo's import files.
func DemoHousesCSV() string {
	var b strings.Builder
	b.WriteString("楼栋,单元,房号,业主姓名,手机号,面积\n")
	for i := range demoHouses {
		bd, u, r := demoPlace(i)
		fmt.Fprintf(&b, "%s,%s,%s,%s先生,1390000%04d,%d.%d\n", bd, u, r, demoSurnames[i%len(demoSurnames)], i+1, 70+i*3, i%10)
	}
	return b.String()
}

func DemoBillsCSV() string {
	var b strings.Builder
	b.WriteString("楼栋,单元,房号,收费项目,账期,金额,到期日\n")
	for _, p := range DemoPeriods {
		for i := range demoHouses {
			bd, u, r := demoPlace(i)
			fmt.Fprintf(&b, "%s,%s,%s,物业费,%s,,\n%s,%s,%s,水费,%s,,\n", bd, u, r, p, bd, u, r, p)
			if i%3 == 0 {
				fmt.Fprintf(&b, "%s,%s,%s,停车费,%s,,\n", bd, u, r, p)
			}
		}
	}
	return b.String()
}

// seedDemoBills seeds 阳光花园's fee items, houses and bills (every start:
// the import creates only what is missing), then — once, remembered in
// demo.json — a notice per house with unpaid bills (bills.IssueNotice, the
// console's code: nothing twice), and a few bills paid at the cashier desk
// (bills.Desk, as the demo cashier): all of the second house's, one of the
// first house's, so one notice is fully paid and one partly. Every start
// then lists the notices with what each asks now.
func (s *Stack) seedDemoBills(ctx context.Context, st *store.Store, demo *Demo) (seeded bool, err error) {
	// A client of its own, its connections closed when done: the importer
	// writes from 8 goroutines, and a connection dialled for a request
	// another connection served stays "new" on the embedded server, which
	// would hold up its shutdown for 5 s.
	tr := &http.Transport{MaxIdleConnsPerHost: 16}
	defer tr.CloseIdleConnections()
	own := *st
	own.DB = dynamodb.New(st.DB.Options(), func(o *dynamodb.Options) { o.HTTPClient = &http.Client{Transport: tr} })
	st = &own
	now := time.Now()
	hr := st.HouseRepo()
	for _, f := range demoFeeItems {
		f.CompanyID, f.CommunityID = DemoCompanyID, demoBillsCommunity
		if f, err = bill.NewFeeItem(f, now); err != nil {
			return false, err
		}
		if err := hr.PutFeeItem(ctx, f); err != nil {
			return false, err
		}
	}
	im := &bills.Importer{Store: st.ImportRepo(), Now: time.Now, NewID: func() string { return "imp-demo-" + newToken()[:12] }}
	j, err := im.Start(ctx, DemoCompanyID, demoBillsCommunity, bills.Files{Houses: []byte(DemoHousesCSV()), HousesName: "demo-houses.csv",
		Bills: []byte(DemoBillsCSV()), BillsName: "demo-bills.csv"}, "seed")
	if err != nil {
		return false, err
	}
	if j.State == bills.JobFailed {
		return false, fmt.Errorf("demo import refused: %v", j.Errors)
	}
	for j.State == bills.JobWriting {
		if j, err = im.Run(ctx, DemoCompanyID, j.ID, time.Now().Add(10*time.Second)); err != nil {
			return false, err
		}
	}

	if !demoNoticesThere(ctx, hr, demo.Notices) {
		if demo.Notices, err = issueDemoNotices(ctx, st); err != nil {
			return false, err
		}
		seeded = true
	}
	return seeded, s.summarizeDemoNotices(ctx, st, demo.Notices)
}

func demoNoticesThere(ctx context.Context, hr *store.Houses, ns []DemoNotice) bool {
	if len(ns) == 0 {
		return false
	}
	for _, n := range ns {
		if _, err := hr.GetNotice(ctx, n.ID); err != nil {
			return false
		}
	}
	return true
}

// issueDemoNotices makes the notices of every house with unpaid bills and
// pays some at the cashier desk.
func issueDemoNotices(ctx context.Context, st *store.Store) ([]DemoNotice, error) {
	hr, br := st.HouseRepo(), st.BillRepo()
	var out []DemoNotice
	var houses []house.House
	cursor := ""
	for {
		page, err := hr.ListHouses(ctx, DemoCompanyID, demoBillsCommunity, "", "", cursor, 100)
		if err != nil {
			return nil, err
		}
		houses = append(houses, page.Items...)
		if cursor = page.Next; cursor == "" {
			break
		}
	}
	for _, h := range houses {
		id, _, err := bills.IssueNotice(ctx, hr, br, h, "seed", time.Now())
		if errors.Is(err, notice.ErrNothingToBill) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("demo notice of %s: %w", h.Label(), err)
		}
		out = append(out, DemoNotice{ID: id, House: h.Label()})
	}
	// The demo cashier takes cash for all of the second notice's house and
	// for the oldest bill of the first's.
	desk := &bills.Desk{Entries: st.CashierRepo(), Houses: hr, Bills: br, Payments: st.OrderRepo(),
		NewID: func() string { return "ce-demo-" + newToken()[:12] }, Now: time.Now}
	for i, all := range []bool{false, true} {
		if i >= len(out) {
			break
		}
		n, err := hr.GetNotice(ctx, out[i].ID)
		if err != nil {
			return nil, err
		}
		ids := n.BillIDs
		if !all {
			ids = ids[:1]
		}
		if _, err := desk.MarkPaid(ctx, bills.MarkPaid{CompanyID: DemoCompanyID, HouseID: n.HouseID, BillIDs: ids, Method: cashier.Cash,
			Note: "演示数据", StaffID: "demo-cashier", StaffName: "收银员（演示）"}); err != nil {
			return nil, fmt.Errorf("demo cashier entry: %w", err)
		}
	}
	return out, nil
}

// summarizeDemoNotices fills in each notice's pay URL and what it asks now.
func (s *Stack) summarizeDemoNotices(ctx context.Context, st *store.Store, ns []DemoNotice) error {
	hr, br := st.HouseRepo(), st.BillRepo()
	now := time.Now()
	for i := range ns {
		n, err := hr.GetNotice(ctx, ns[i].ID)
		if err != nil {
			return err
		}
		bs, err := br.ListByHouse(ctx, n.CompanyID, n.HouseID)
		if err != nil {
			return err
		}
		ns[i].URL = notice.NoticeURL(s.URLs.Gateway, n.ID)
		ns[i].TotalFen = notice.Summarize(n, bs, now).OpenFen
		ns[i].House = n.Label()
	}
	return nil
}
