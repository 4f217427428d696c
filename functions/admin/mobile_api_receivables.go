package main

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/bill"
	"github.com/estatepay/estatepay/shared/domain/house"
	"github.com/estatepay/estatepay/shared/domain/notice"
	"github.com/estatepay/estatepay/shared/payments"
	"github.com/estatepay/estatepay/shared/qrprint"
	"github.com/estatepay/estatepay/shared/store"
	"github.com/estatepay/estatepay/shared/web"
)

// 应收款 in the managers' app (issue 11, item 8; shared/payments
// IssueReceivable): a manager finds a house of the company, picks some of
// its unpaid bills and gets a one-time code for exactly them (a payment
// notice collected for the manager, paid like any notice: the order and
// every bill in one transaction).
//
//	GET  /m/api/receivables/houses?community=&building=&unit=&cursor=   {communities, houses, next}
//	GET  /m/api/receivables/houses/{hid}                                {house, bills (unpaid)}
//	POST /m/api/receivables {"house_id", "bill_ids"}                    201 {id, url, qr_svg, open_fen, items, …}
//	GET  /m/api/receivables/{nid}                                       the code as it stands (settled once paid)

// receivableHousesPage is how many houses a page lists.
const receivableHousesPage = 50

// receivables is the notices part the 应收款 needs (501 without).
func (h *Handler) receivables(c *call) (*Notices, web.Response, bool) {
	if h.Notices == nil || c.p.CompanyID == "" {
		return nil, h.fail(c, http.StatusNotImplemented, "not_implemented", "该功能即将上线"), false
	}
	return h.Notices, web.Response{}, true
}

type receivableHouseJSON struct {
	ID          string `json:"id"`
	CommunityID string `json:"community_id"`
	Label       string `json:"label"`
	Building    string `json:"building"`
	Unit        string `json:"unit"`
	Room        string `json:"room"`
	OwnerName   string `json:"owner_name"`
}

func receivableHouse(x house.House) receivableHouseJSON {
	return receivableHouseJSON{ID: x.ID, CommunityID: x.CommunityID, Label: house.Label(x.Building, x.Unit, x.Room), Building: x.Building,
		Unit: x.Unit, Room: x.Room, OwnerName: x.OwnerName}
}

// apiMyReceivableHouses lists the company's communities and, with
// ?community=, a page of its houses (narrowed by building and unit).
func (h *Handler) apiMyReceivableHouses(ctx context.Context, c *call) web.Response {
	n, resp, ok := h.receivables(c)
	if !ok {
		return resp
	}
	cms, err := h.Store.ListCommunities(ctx, c.p.CompanyID)
	if err != nil {
		return h.internal(ctx, c, "list communities", err)
	}
	type communityJSON struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	}
	out := struct {
		Communities []communityJSON       `json:"communities"`
		Houses      []receivableHouseJSON `json:"houses"`
		Next        *string               `json:"next"`
	}{Communities: []communityJSON{}, Houses: []receivableHouseJSON{}}
	q := c.req.QueryStringParameters
	want := q["community"]
	found := false
	for _, cm := range cms {
		out.Communities = append(out.Communities, communityJSON{cm.ID, cm.Name})
		found = found || cm.ID == want
	}
	if want != "" && !found {
		return h.notFound(c)
	}
	if want != "" {
		page, err := n.Houses.ListHouses(ctx, c.p.CompanyID, want, strings.TrimSpace(q["building"]), strings.TrimSpace(q["unit"]), q["cursor"], receivableHousesPage)
		if errors.Is(err, store.ErrBadCursor) {
			return h.fail(c, http.StatusBadRequest, "bad_cursor", "翻页位置无效，请从头查看")
		}
		if err != nil {
			return h.internal(ctx, c, "list houses", err)
		}
		for _, x := range page.Items {
			out.Houses = append(out.Houses, receivableHouse(x))
		}
		if page.Next != "" {
			out.Next = &page.Next
		}
	}
	return noStore(web.JSON(http.StatusOK, out))
}

type receivableBillJSON struct {
	ID        string `json:"id"`
	FeeItem   string `json:"fee_item"`
	Period    string `json:"period"`
	AmountFen int64  `json:"amount_fen"`
	Amount    string `json:"amount"`
	DueDate   string `json:"due_date"`
	Paying    bool   `json:"paying"` // someone's payment holds it right now (正在支付)
}

// apiMyReceivableHouse is one house of the company and its unpaid bills.
func (h *Handler) apiMyReceivableHouse(ctx context.Context, c *call) web.Response {
	n, resp, ok := h.receivables(c)
	if !ok {
		return resp
	}
	x, err := n.Houses.GetHouse(ctx, c.p.CompanyID, c.params["hid"])
	if errors.Is(err, house.ErrNotFound) {
		return h.notFound(c)
	}
	if err != nil {
		return h.internal(ctx, c, "get house", err)
	}
	bs, err := n.Bills.ListByHouse(ctx, c.p.CompanyID, x.ID)
	if err != nil {
		return h.internal(ctx, c, "house bills", err)
	}
	now := n.Now()
	out := struct {
		House receivableHouseJSON  `json:"house"`
		Bills []receivableBillJSON `json:"bills"`
	}{House: receivableHouse(x), Bills: []receivableBillJSON{}}
	for _, b := range bs {
		if b.Status.Final() {
			continue
		}
		out.Bills = append(out.Bills, receivableBillJSON{ID: b.ID, FeeItem: b.FeeItem, Period: b.Period, AmountFen: b.AmountFen,
			Amount: domain.FormatYuan(b.AmountFen), DueDate: string(b.DueDate), Paying: b.Status == bill.Reserved && b.ReservedUntil.After(now)})
	}
	return noStore(web.JSON(http.StatusOK, out))
}

// receivableAnswer is a 应收款 code as it stands.
type receivableAnswer struct {
	noticeJSON
	QRSVG string `json:"qr_svg"`
}

func (h *Handler) receivableAnswer(ctx context.Context, n *Notices, x notice.Notice) (receivableAnswer, error) {
	st, err := n.summarize(ctx, []notice.Notice{x})
	if err != nil {
		return receivableAnswer{}, err
	}
	j := n.toJSON(st[0], true)
	svg, err := qrprint.Symbol(j.URL, "qr")
	if err != nil {
		return receivableAnswer{}, err
	}
	return receivableAnswer{noticeJSON: j, QRSVG: string(svg)}, nil
}

// apiMyReceivableCreate makes the one-time code for the bills asked.
func (h *Handler) apiMyReceivableCreate(ctx context.Context, c *call) web.Response {
	n, resp, ok := h.receivables(c)
	if !ok {
		return resp
	}
	var in struct {
		HouseID string   `json:"house_id"`
		BillIDs []string `json:"bill_ids"`
	}
	if !decodeJSON(c, &in) {
		return h.fail(c, http.StatusBadRequest, "invalid", "请求须为 JSON：{\"house_id\", \"bill_ids\": [...]}")
	}
	x, err := n.Houses.GetHouse(ctx, c.p.CompanyID, in.HouseID)
	if errors.Is(err, house.ErrNotFound) {
		return h.notFound(c)
	}
	if err != nil {
		return h.internal(ctx, c, "get house", err)
	}
	made, err := payments.IssueReceivable(ctx, n.Houses, n.Bills, payments.ReceivableRequest{House: x, BillIDs: in.BillIDs, CollectorID: c.p.StaffID}, n.Now())
	var inv *payments.InvalidError
	if errors.As(err, &inv) {
		return h.fail(c, http.StatusBadRequest, "invalid", inv.Msg)
	}
	if err != nil {
		return h.internal(ctx, c, "issue receivable", err)
	}
	out, err := h.receivableAnswer(ctx, n, made)
	if err != nil {
		return h.internal(ctx, c, "receivable answer", err)
	}
	h.audit(ctx, c, "receivable.create", "notice", made.ID, nil, map[string]any{"house_id": x.ID, "bill_ids": made.BillIDs, "open_fen": out.OpenFen})
	return noStore(web.JSON(http.StatusCreated, out))
}

// apiMyReceivable is one of the caller's 应收款 codes as it stands (settled
// once paid); anyone else's notice is 404.
func (h *Handler) apiMyReceivable(ctx context.Context, c *call) web.Response {
	n, resp, ok := h.receivables(c)
	if !ok {
		return resp
	}
	x, err := n.Houses.GetNotice(ctx, c.params["nid"])
	if errors.Is(err, notice.ErrNotFound) || (err == nil && (x.CompanyID != c.p.CompanyID || x.CollectorID != c.p.StaffID)) {
		return h.notFound(c)
	}
	if err != nil {
		return h.internal(ctx, c, "get notice", err)
	}
	out, err := h.receivableAnswer(ctx, n, x)
	if err != nil {
		return h.internal(ctx, c, "receivable answer", err)
	}
	return noStore(web.JSON(http.StatusOK, out))
}
