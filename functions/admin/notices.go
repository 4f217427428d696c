package main

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/estatepay/estatepay/shared/bills"
	"github.com/estatepay/estatepay/shared/domain/bill"
	"github.com/estatepay/estatepay/shared/domain/calendar"
	"github.com/estatepay/estatepay/shared/domain/house"
	"github.com/estatepay/estatepay/shared/domain/notice"
	"github.com/estatepay/estatepay/shared/store"
	"github.com/estatepay/estatepay/shared/web"
)

// Payment notices (缴费通知单, C5, C6): made from houses' unpaid bills, one
// house at a time or a batch for a building, a unit or a whole community;
// listed per community with what each still asks; viewed and printed
// (notices_print.go). Admins and cashiers (staff.NoticesIssue,
// staff.NoticesPrint); another company's notice is 404.
//
//	POST /admin/api/notices                     {house_id} | {community_id, building?, unit?, cursor?}
//	GET  /admin/api/notices/{nid}               the notice as it stands (items, total, what remains)
//	GET  /admin/api/notices/{nid}/print         the print page (the contract)
//	GET  /admin/api/communities/{id}/notices    a community's notices (?building=&unit=&cursor=&limit=)
//	GET  /admin/communities/{id}/notices        the console page (list, make)
//	POST /admin/communities/{id}/notices        make: one house (building+room) or a batch
//	GET  /admin/notices/{nid}                   one notice, with its 打印 buttons
//	GET  /admin/notices/{nid}/print             the print page
//	GET  /admin/communities/{id}/notices/print  batch print (?building=&unit=&size=a5&cursor=)
//
// Making is idempotent per house: a house whose unpaid bills are exactly
// those of one of its notices gets no new notice (that notice is answered
// as existing), so pressing 生成 again — or re-posting the page — makes
// nothing twice. A house whose bills changed (a new month billed, a bill
// paid at the counter) gets a new notice; the older ones stay valid (each
// asks only what its own bills still owe). Two presses at the same instant
// may both make a notice for a house: harmless, as both pay the same bills
// and the bills' reservation lets only one payment take them.

func init() {
	register(
		route{method: "POST", pattern: "/admin/api/notices", action: ActNoticesIssue, handle: (*Handler).apiIssueNotices},
		route{method: "GET", pattern: "/admin/api/notices/{nid}", action: ActNoticesPrint, handle: (*Handler).apiNotice},
		route{method: "GET", pattern: "/admin/api/notices/{nid}/print", action: ActNoticesPrint, handle: (*Handler).printNotice},
		route{method: "GET", pattern: "/admin/api/communities/{id}/notices", action: ActNoticesPrint, handle: (*Handler).apiCommunityNotices},
		route{method: "GET", pattern: "/admin/communities/{id}/notices", action: ActNoticesPrint, handle: (*Handler).noticesPage},
		route{method: "POST", pattern: "/admin/communities/{id}/notices", action: ActNoticesIssue, handle: (*Handler).issueNoticesForm},
		route{method: "GET", pattern: "/admin/notices/{nid}", action: ActNoticesPrint, handle: (*Handler).noticePage},
		route{method: "GET", pattern: "/admin/notices/{nid}/print", action: ActNoticesPrint, handle: (*Handler).printNotice},
		route{method: "GET", pattern: "/admin/communities/{id}/notices/print", action: ActNoticesPrint, handle: (*Handler).printNotices},
	)
}

// Notices is what the notice routes read and write: houses and notices
// (store.Houses), bills (store.Bills), the clock and the public base URL
// the codes encode.
type Notices struct {
	Houses        *store.Houses
	Bills         *store.Bills
	PublicBaseURL string
	Now           func() time.Time
}

// Bounds of one request.
const (
	issueBatch = 100 // houses examined per batch request (3 calls each: about a second)
	listLimit  = 100 // notices per listing page

	workers = 8 // concurrent house reads
)

// printBatch is the most notices one print page holds: 200 × ~3.4 KB
// (measured, TestBatchPrint) ≈ 0.7 MB, far under Lambda's 6 MB response,
// and a stack of paper one printer job handles. A variable for the tests.
var printBatch int32 = 200

// errNoBills: the house has nothing to put on a notice.
var errNoBills = notice.ErrNothingToBill

// issued is what making notices did.
type issued struct {
	IDs      []string // every house's notice: made now or already there (house order)
	Created  []string
	Existing []string
	NoBills  int    // houses with no unpaid bill
	Next     string // the next batch's cursor ("" when done)
}

// issueHouse makes h's notice from its unpaid bills, unless one of its
// notices already covers exactly those bills (then that one, created false):
// bills.IssueNotice, which the local stack's demo seeding uses too.
func (n *Notices) issueHouse(ctx context.Context, h house.House, by string) (id string, created bool, err error) {
	return bills.IssueNotice(ctx, n.Houses, n.Bills, h, by, n.Now())
}

// issueBatchOf makes the notices of one page of a community's houses
// (building and unit narrow it), from cursor.
func (n *Notices) issueBatchOf(ctx context.Context, companyID, communityID, building, unit, cursor, by string) (issued, error) {
	page, err := n.Houses.ListHouses(ctx, companyID, communityID, building, unit, cursor, issueBatch)
	if err != nil {
		return issued{}, err
	}
	type result struct {
		id      string
		created bool
		err     error
	}
	res := make([]result, len(page.Items))
	forEach(len(page.Items), func(i int) {
		res[i].id, res[i].created, res[i].err = n.issueHouse(ctx, page.Items[i], by)
	})
	out := issued{Next: page.Next}
	for _, r := range res {
		switch {
		case errors.Is(r.err, errNoBills):
			out.NoBills++
		case r.err != nil:
			return issued{}, r.err
		case r.created:
			out.IDs, out.Created = append(out.IDs, r.id), append(out.Created, r.id)
		default:
			out.IDs, out.Existing = append(out.IDs, r.id), append(out.Existing, r.id)
		}
	}
	return out, nil
}

// forEach runs f(0..n-1) on at most `workers` goroutines.
func forEach(n int, f func(i int)) {
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(workers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				f(i)
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}

// standing is a notice with its summary now.
type standing struct {
	notice.Notice
	sum notice.Summary
}

// summarize reads the bills of each notice (one house query per house) and
// summarizes them at now.
func (n *Notices) summarize(ctx context.Context, ns []notice.Notice) ([]standing, error) {
	houses := map[string][]bill.Bill{}
	var order []string
	for _, x := range ns {
		if _, ok := houses[x.HouseID]; !ok {
			houses[x.HouseID] = nil
			order = append(order, x.HouseID)
		}
	}
	bills := make([][]bill.Bill, len(order))
	errs := make([]error, len(order))
	company := ""
	if len(ns) > 0 {
		company = ns[0].CompanyID
	}
	forEach(len(order), func(i int) { bills[i], errs[i] = n.Bills.ListByHouse(ctx, company, order[i]) })
	for i, id := range order {
		if errs[i] != nil {
			return nil, errs[i]
		}
		houses[id] = bills[i]
	}
	now := n.Now()
	out := make([]standing, len(ns))
	for i, x := range ns {
		out[i] = standing{x, notice.Summarize(x, houses[x.HouseID], now)}
	}
	return out, nil
}

// loadNotice reads notice {nid} of the caller's company (another company's
// is 404, as one that does not exist).
func (h *Handler) loadNotice(ctx context.Context, c *call) (notice.Notice, web.Response, bool) {
	if h.Notices == nil {
		return notice.Notice{}, h.fail(c, http.StatusNotImplemented, "not_implemented", "该功能即将上线"), false
	}
	n, err := h.Notices.Houses.GetNotice(ctx, c.params["nid"])
	if errors.Is(err, notice.ErrNotFound) || (err == nil && !owns(c.p, n.CompanyID)) {
		return n, h.notFound(c), false
	}
	if err != nil {
		return n, h.internal(ctx, c, "get notice", err), false
	}
	return n, web.Response{}, true
}

// ---------------------------------------------------------------- JSON API

type noticeHouseJSON struct {
	ID        string `json:"id"`
	Label     string `json:"label"`
	Building  string `json:"building"`
	Unit      string `json:"unit"`
	Room      string `json:"room"`
	OwnerName string `json:"owner_name"`
}

type noticeItemJSON struct {
	BillID    string `json:"bill_id"`
	FeeItem   string `json:"fee_item"`
	Period    string `json:"period"`
	AmountFen int64  `json:"amount_fen"`
	DueDate   string `json:"due_date"`
	State     string `json:"state"` // open | paying | paid | waived
}

type noticeJSON struct {
	ID          string           `json:"id"`
	URL         string           `json:"url"`
	CommunityID string           `json:"community_id"`
	House       noticeHouseJSON  `json:"house"`
	DueDate     string           `json:"due_date"`
	CreatedAt   string           `json:"created_at"`
	Items       []noticeItemJSON `json:"items,omitempty"`
	TotalFen    int64            `json:"total_fen"`
	PaidFen     int64            `json:"paid_fen"`
	OpenFen     int64            `json:"open_fen"`
	Paying      bool             `json:"paying"`
	Settled     bool             `json:"settled"`
}

func (n *Notices) toJSON(s standing, items bool) noticeJSON {
	j := noticeJSON{ID: s.ID, URL: notice.NoticeURL(n.PublicBaseURL, s.ID), CommunityID: s.CommunityID,
		House:   noticeHouseJSON{ID: s.HouseID, Label: s.Label(), Building: s.Building, Unit: s.Unit, Room: s.Room, OwnerName: s.OwnerName},
		DueDate: string(s.DueDate), CreatedAt: calendar.Format(s.CreatedAt),
		TotalFen: s.sum.TotalFen, PaidFen: s.sum.PaidFen, OpenFen: s.sum.OpenFen, Paying: s.sum.Paying, Settled: s.sum.Settled}
	if items {
		j.Items = []noticeItemJSON{}
		for _, it := range s.sum.Items {
			j.Items = append(j.Items, noticeItemJSON{BillID: it.Bill.ID, FeeItem: it.Bill.FeeItem, Period: it.Bill.Period,
				AmountFen: it.Bill.AmountFen, DueDate: string(it.Bill.DueDate), State: string(it.State)})
		}
	}
	return j
}

// apiIssueNotices: POST /admin/api/notices {house_id} or {community_id,
// building?, unit?, cursor?} → {ids, created, existing, no_unpaid_bills,
// next_cursor}; 201 when a notice was made, else 200.
func (h *Handler) apiIssueNotices(ctx context.Context, c *call) web.Response {
	if h.Notices == nil {
		return h.fail(c, http.StatusNotImplemented, "not_implemented", "该功能即将上线")
	}
	var in struct {
		HouseID     string `json:"house_id"`
		CommunityID string `json:"community_id"`
		Building    string `json:"building"`
		Unit        string `json:"unit"`
		Cursor      string `json:"cursor"`
	}
	if !decodeJSON(c, &in) || (in.HouseID == "") == (in.CommunityID == "") {
		return web.Error(http.StatusBadRequest, "invalid", "请提供房屋（house_id）或小区（community_id）之一")
	}
	var out issued
	var resp web.Response
	var ok bool
	if in.HouseID != "" {
		out, resp, ok = h.issueForHouse(ctx, c, in.HouseID)
	} else {
		out, resp, ok = h.issueForCommunity(ctx, c, in.CommunityID, in.Building, in.Unit, in.Cursor)
	}
	if !ok {
		return resp
	}
	status := http.StatusOK
	if len(out.Created) > 0 {
		status = http.StatusCreated
	}
	return web.JSON(status, map[string]any{"ids": nonNil(out.IDs), "created": nonNil(out.Created), "existing": nonNil(out.Existing),
		"no_unpaid_bills": out.NoBills, "next_cursor": out.Next})
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// issueForHouse makes house id's notice (the caller's company's house).
func (h *Handler) issueForHouse(ctx context.Context, c *call, id string) (issued, web.Response, bool) {
	hs, err := h.Notices.Houses.GetHouse(ctx, c.p.CompanyID, id)
	if errors.Is(err, house.ErrNotFound) || (err == nil && !owns(c.p, hs.CompanyID)) {
		return issued{}, h.fail(c, http.StatusNotFound, "not_found", "房屋不存在"), false
	}
	if err != nil {
		return issued{}, h.internal(ctx, c, "get house", err), false
	}
	nid, created, err := h.Notices.issueHouse(ctx, hs, "staff:"+c.p.StaffID)
	if errors.Is(err, errNoBills) {
		return issued{}, h.fail(c, http.StatusUnprocessableEntity, "no_unpaid_bills", "该房屋没有未缴的账单，无需生成通知单"), false
	}
	if err != nil {
		return issued{}, h.internal(ctx, c, "issue notice", err), false
	}
	out := issued{IDs: []string{nid}}
	if created {
		out.Created = out.IDs
		h.audit(ctx, c, "notice.issue", "notice", nid, nil, map[string]any{"house_id": hs.ID, "house": hs.Label()})
	} else {
		out.Existing = out.IDs
	}
	return out, web.Response{}, true
}

// issueForCommunity makes one batch of a community's (building's, unit's)
// notices.
func (h *Handler) issueForCommunity(ctx context.Context, c *call, id, building, unit, cursor string) (issued, web.Response, bool) {
	cm, resp, ok := h.loadCommunity(ctx, c, id)
	if !ok {
		return issued{}, resp, false
	}
	building, unit = strings.TrimSpace(building), strings.TrimSpace(unit)
	if building == "" && unit != "" {
		return issued{}, h.fail(c, http.StatusBadRequest, "invalid", "按单元生成时请同时填写楼栋"), false
	}
	out, err := h.Notices.issueBatchOf(ctx, cm.CompanyID, cm.ID, building, unit, cursor, "staff:"+c.p.StaffID)
	if errors.Is(err, store.ErrBadCursor) {
		return issued{}, h.fail(c, http.StatusBadRequest, "bad_cursor", "分页参数无效，请从头开始"), false
	}
	if err != nil {
		return issued{}, h.internal(ctx, c, "issue notices", err), false
	}
	if len(out.Created) > 0 {
		h.audit(ctx, c, "notice.issue_batch", "community", cm.ID, nil,
			map[string]any{"building": building, "unit": unit, "created": len(out.Created), "existing": len(out.Existing), "no_unpaid_bills": out.NoBills})
	}
	return out, web.Response{}, true
}

// apiNotice: GET /admin/api/notices/{nid}.
func (h *Handler) apiNotice(ctx context.Context, c *call) web.Response {
	n, resp, ok := h.loadNotice(ctx, c)
	if !ok {
		return resp
	}
	ss, err := h.Notices.summarize(ctx, []notice.Notice{n})
	if err != nil {
		return h.internal(ctx, c, "notice bills", err)
	}
	return web.JSON(http.StatusOK, h.Notices.toJSON(ss[0], true))
}

// listing is one page of a community's notices with where it came from.
type listing struct {
	cm       store.Community
	building string
	unit     string
	items    []standing
	next     string
}

// listNotices reads one page of community {id}'s notices (?building=,
// ?unit=, ?cursor=) and summarizes them.
func (h *Handler) listNotices(ctx context.Context, c *call, limit int32) (listing, web.Response, bool) {
	if h.Notices == nil {
		return listing{}, h.fail(c, http.StatusNotImplemented, "not_implemented", "该功能即将上线"), false
	}
	cm, resp, ok := h.loadCommunity(ctx, c, c.params["id"])
	if !ok {
		return listing{}, resp, false
	}
	q := c.req.QueryStringParameters
	l := listing{cm: cm, building: strings.TrimSpace(q["building"]), unit: strings.TrimSpace(q["unit"])}
	if l.building == "" {
		l.unit = ""
	}
	page, err := h.Notices.Houses.ListNotices(ctx, cm.CompanyID, cm.ID, l.building, l.unit, q["cursor"], limit)
	if errors.Is(err, store.ErrBadCursor) {
		return listing{}, h.fail(c, http.StatusBadRequest, "bad_cursor", "分页参数无效，请从头开始"), false
	}
	if err != nil {
		return listing{}, h.internal(ctx, c, "list notices", err), false
	}
	l.next = page.Next
	if l.items, err = h.Notices.summarize(ctx, page.Items); err != nil {
		return listing{}, h.internal(ctx, c, "notice bills", err), false
	}
	return l, web.Response{}, true
}

// apiCommunityNotices: GET /admin/api/communities/{id}/notices.
func (h *Handler) apiCommunityNotices(ctx context.Context, c *call) web.Response {
	limit := int32(listLimit)
	if v := c.req.QueryStringParameters["limit"]; v != "" {
		n, ok := positive(v)
		if !ok || n > listLimit {
			return web.Error(http.StatusBadRequest, "invalid", "limit 应为 1 到 100 的整数")
		}
		limit = int32(n)
	}
	l, resp, ok := h.listNotices(ctx, c, limit)
	if !ok {
		return resp
	}
	out := make([]noticeJSON, 0, len(l.items))
	for _, s := range l.items {
		out = append(out, h.Notices.toJSON(s, false))
	}
	return web.JSON(http.StatusOK, map[string]any{"notices": out, "next_cursor": l.next})
}

// positive parses a small positive integer.
func positive(s string) (int, bool) {
	n := 0
	for _, r := range s {
		if r < '0' || r > '9' || n > 1_000_000 {
			return 0, false
		}
		n = n*10 + int(r-'0')
	}
	return n, n > 0
}
