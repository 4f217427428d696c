package main

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/estatepay/estatepay/shared/bills"
	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/bill"
	"github.com/estatepay/estatepay/shared/domain/cashier"
	"github.com/estatepay/estatepay/shared/domain/staff"
	"github.com/estatepay/estatepay/shared/store"
	"github.com/estatepay/estatepay/shared/web"
	"github.com/estatepay/estatepay/shared/web/console"
)

// The cashier desk, 收银台 (C8; role cashier, and admins): find a house, see
// its bills, mark chosen bills paid with a method (a code payment is linked
// by its order id, never twice), print the receipt, reverse an entry with a
// reason. Reversing: an admin reverses any entry of the company, a cashier
// only their own (staff.BillsReverse: Company for admins, Own for cashiers).
//
//	GET  /admin/cashier                              find a house (community, building, unit, room)
//	GET  /admin/cashier/houses/{hid}                 its bills, the entry form, its entries
//	POST /admin/cashier/houses/{hid}/entries         form: bill (repeated), method, order_id | order_pick, note
//	GET  /admin/cashier/entries/{eid}                the receipt (收据, print CSS)
//	POST /admin/cashier/entries/{eid}/reverse        form: reason
//	POST /admin/api/cashier/entries                  JSON {house_id, bill_ids, method, order_id?, note} → 201 {"entry"}
//	GET  /admin/api/cashier/entries/{eid}            {"entry", "bills"}
//	POST /admin/api/cashier/entries/{eid}/reverse    JSON {reason} → {"entry"}
//	GET  /admin/api/houses/{hid}/entries             {"entries"} newest first
func init() {
	register(
		route{method: "GET", pattern: "/admin/cashier", action: ActBillsCollect, handle: (*Handler).cashierSearch},
		route{method: "GET", pattern: "/admin/cashier/houses/{hid}", action: ActBillsCollect, handle: (*Handler).cashierHouse},
		route{method: "POST", pattern: "/admin/cashier/houses/{hid}/entries", action: ActBillsCollect, handle: (*Handler).cashierMarkPaid},
		route{method: "GET", pattern: "/admin/cashier/entries/{eid}", action: ActBillsCollect, handle: (*Handler).cashierReceipt},
		route{method: "POST", pattern: "/admin/cashier/entries/{eid}/reverse", action: ActBillsCollect, handle: (*Handler).cashierReverse},
		route{method: "POST", pattern: "/admin/api/cashier/entries", action: ActBillsCollect, handle: (*Handler).apiCashierMarkPaid},
		route{method: "GET", pattern: "/admin/api/cashier/entries/{eid}", action: ActBillsCollect, handle: (*Handler).apiCashierEntry},
		route{method: "POST", pattern: "/admin/api/cashier/entries/{eid}/reverse", action: ActBillsCollect, handle: (*Handler).apiCashierReverse},
		route{method: "GET", pattern: "/admin/api/houses/{hid}/entries", action: ActBillsCollect, handle: (*Handler).apiHouseEntries},
	)
	actionNames["cashier.mark_paid"] = "收银收款"
	actionNames["cashier.reverse"] = "收银冲正"
	notices["paid"] = "已收款，收据如下"
	notices["reversed"] = "已冲正，账单已恢复为未缴"
}

// desk is the cashier desk, or a 501 answer when the console has none.
func (h *Handler) desk(c *call) (*bills.Desk, web.Response, bool) {
	if h.Cashier == nil || c.p.CompanyID == "" {
		return nil, h.fail(c, http.StatusNotImplemented, "not_implemented", "该功能即将上线"), false
	}
	return h.Cashier, web.Response{}, true
}

// deskError answers a refusal of the desk (bills.Describe); 500s are logged.
func (h *Handler) deskError(ctx context.Context, c *call, what string, err error) web.Response {
	status, code, msg := bills.Describe(err)
	if status == http.StatusInternalServerError {
		return h.internal(ctx, c, what, err)
	}
	return h.fail(c, status, code, msg)
}

// ---------------------------------------------------------------- JSON

type entryJSON struct {
	ID          string   `json:"id"`
	CompanyID   string   `json:"company_id"`
	CommunityID string   `json:"community_id"`
	HouseID     string   `json:"house_id"`
	BillIDs     []string `json:"bill_ids"`
	TotalFen    int64    `json:"total_fen"`
	Total       string   `json:"total"`
	Method      string   `json:"method"`
	MethodName  string   `json:"method_name"`
	OrderID     string   `json:"order_id,omitempty"`
	Note        string   `json:"note,omitempty"`
	By          string   `json:"by"`
	ByName      string   `json:"by_name,omitempty"`
	At          string   `json:"at"`
	Status      string   `json:"status"`
	Version     int64    `json:"version"`
	ReversedBy  string   `json:"reversed_by,omitempty"`
	ReversedWhy string   `json:"reversed_why,omitempty"`
	ReversedAt  string   `json:"reversed_at,omitempty"`
}

func jsonTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func toEntryJSON(e cashier.Entry) entryJSON {
	return entryJSON{ID: e.ID, CompanyID: e.CompanyID, CommunityID: e.CommunityID, HouseID: e.HouseID, BillIDs: e.BillIDs,
		TotalFen: e.TotalFen, Total: domain.FormatYuan(e.TotalFen), Method: string(e.Method), MethodName: e.Method.Label(),
		OrderID: e.OrderID, Note: e.Note, By: e.By, ByName: e.ByName, At: jsonTime(e.At), Status: string(e.Status), Version: e.Version,
		ReversedBy: e.ReversedBy, ReversedWhy: e.ReversedWhy, ReversedAt: jsonTime(e.ReversedAt)}
}

// markPaid runs the command for the caller and audits it.
func (h *Handler) markPaid(ctx context.Context, c *call, d *bills.Desk, in bills.MarkPaid) (cashier.Entry, error) {
	in.CompanyID, in.StaffID, in.StaffName = c.p.CompanyID, c.p.StaffID, c.p.Name
	e, err := d.MarkPaid(ctx, in)
	if err == nil {
		h.audit(ctx, c, "cashier.mark_paid", "cashier_entry", e.ID, nil, toEntryJSON(e))
	}
	return e, err
}

// reverse runs the reversal for the caller (a cashier: their own entries
// only) and audits it.
func (h *Handler) reverse(ctx context.Context, c *call, d *bills.Desk, id, reason string) (cashier.Entry, error) {
	scope := staff.ScopeOf(c.p.Role, staff.BillsReverse)
	if scope != staff.Company && scope != staff.Own {
		return cashier.Entry{}, bills.ErrNotOwn
	}
	before, err := d.Entries.Get(ctx, c.p.CompanyID, id)
	if err != nil {
		return cashier.Entry{}, err
	}
	e, err := d.Reverse(ctx, bills.Reverse{CompanyID: c.p.CompanyID, EntryID: id, StaffID: c.p.StaffID, Reason: reason, OwnOnly: scope == staff.Own})
	if err == nil {
		h.audit(ctx, c, "cashier.reverse", "cashier_entry", e.ID, toEntryJSON(before), toEntryJSON(e))
	}
	return e, err
}

func (h *Handler) apiCashierMarkPaid(ctx context.Context, c *call) web.Response {
	d, resp, ok := h.desk(c)
	if !ok {
		return resp
	}
	var in struct {
		HouseID string   `json:"house_id"`
		BillIDs []string `json:"bill_ids"`
		Method  string   `json:"method"`
		OrderID string   `json:"order_id"`
		Note    string   `json:"note"`
	}
	if !decodeJSON(c, &in) {
		return web.Error(http.StatusBadRequest, "invalid", "请求须为 JSON：{house_id, bill_ids, method, order_id, note}")
	}
	if in.HouseID == "" {
		return web.Error(http.StatusBadRequest, "invalid", "请指定房屋（house_id）")
	}
	e, err := h.markPaid(ctx, c, d, bills.MarkPaid{HouseID: in.HouseID, BillIDs: in.BillIDs, Method: cashier.Method(in.Method), OrderID: in.OrderID, Note: in.Note})
	if err != nil {
		return h.deskError(ctx, c, "cashier mark paid", err)
	}
	return web.JSON(http.StatusCreated, map[string]any{"entry": toEntryJSON(e)})
}

func (h *Handler) apiCashierEntry(ctx context.Context, c *call) web.Response {
	d, resp, ok := h.desk(c)
	if !ok {
		return resp
	}
	rc, err := d.Receipt(ctx, c.p.CompanyID, c.params["eid"])
	if err != nil {
		return h.deskError(ctx, c, "cashier entry", err)
	}
	bs := make([]BillJSON, 0, len(rc.Bills))
	for _, b := range rc.Bills {
		bs = append(bs, billJSON(b))
	}
	return web.JSON(http.StatusOK, map[string]any{"entry": toEntryJSON(rc.Entry), "house": rc.House.Label(), "bills": bs})
}

func (h *Handler) apiCashierReverse(ctx context.Context, c *call) web.Response {
	d, resp, ok := h.desk(c)
	if !ok {
		return resp
	}
	if _, err := d.Entries.Get(ctx, c.p.CompanyID, c.params["eid"]); err != nil {
		return h.deskError(ctx, c, "cashier entry", err) // another company's entry: 404 before anything else
	}
	var in struct {
		Reason string `json:"reason"`
	}
	if !decodeJSON(c, &in) {
		return web.Error(http.StatusBadRequest, "invalid", "请求须为 JSON：{reason}")
	}
	e, err := h.reverse(ctx, c, d, c.params["eid"], in.Reason)
	if err != nil {
		return h.deskError(ctx, c, "cashier reverse", err)
	}
	return web.JSON(http.StatusOK, map[string]any{"entry": toEntryJSON(e)})
}

func (h *Handler) apiHouseEntries(ctx context.Context, c *call) web.Response {
	d, resp, ok := h.desk(c)
	if !ok {
		return resp
	}
	hs, err := d.Houses.GetHouse(ctx, c.p.CompanyID, c.params["hid"])
	if err != nil {
		return h.deskError(ctx, c, "house entries", err)
	}
	page, err := d.Entries.ListByHouse(ctx, c.p.CompanyID, hs.ID, c.req.QueryStringParameters["cursor"], 50)
	if err == store.ErrBadCursor {
		return web.Error(http.StatusBadRequest, "bad_cursor", "分页参数无效")
	}
	if err != nil {
		return h.internal(ctx, c, "house entries", err)
	}
	out := make([]entryJSON, 0, len(page.Items))
	for _, e := range page.Items {
		out = append(out, toEntryJSON(e))
	}
	return web.JSON(http.StatusOK, map[string]any{"house_id": hs.ID, "entries": out, "next_cursor": page.Next})
}

// ---------------------------------------------------------------- pages

type deskOption struct {
	Value, Label string
	On           bool
}

type houseRow struct{ ID, Label, Owner string }

type cashierSearchBody struct {
	Communities                     []deskOption
	Community, Building, Unit, Room string
	Searched                        bool
	Houses                          []houseRow
	Next                            string
}

func (h *Handler) cashierSearch(ctx context.Context, c *call) web.Response {
	if _, resp, ok := h.desk(c); !ok {
		return resp
	}
	q := c.req.QueryStringParameters
	cms, err := h.Store.ListCommunities(ctx, c.p.CompanyID)
	if err != nil {
		return h.internal(ctx, c, "list communities", err)
	}
	b := cashierSearchBody{Community: q["community"], Building: strings.TrimSpace(q["building"]), Unit: strings.TrimSpace(q["unit"]), Room: strings.TrimSpace(q["room"])}
	if b.Community == "" && len(cms) == 1 {
		b.Community = cms[0].ID
	}
	known := false
	for _, cm := range cms {
		if cm.CompanyID != c.p.CompanyID {
			continue
		}
		known = known || cm.ID == b.Community
		b.Communities = append(b.Communities, deskOption{Value: cm.ID, Label: cm.Name, On: cm.ID == b.Community})
	}
	v := h.page(c, "收银台", &b)
	if b.Community != "" && known {
		b.Searched = true
		unit := b.Unit
		if b.Building == "" {
			unit = ""
		}
		page, err := h.Store.HouseRepo().ListHouses(ctx, c.p.CompanyID, b.Community, b.Building, unit, q["cursor"], 100)
		if err != nil && err != store.ErrBadCursor {
			return h.internal(ctx, c, "list houses", err)
		}
		for _, hs := range page.Items {
			if b.Room != "" && hs.Room != b.Room {
				continue
			}
			b.Houses = append(b.Houses, houseRow{ID: hs.ID, Label: hs.Label(), Owner: hs.OwnerName})
		}
		if page.Next != "" {
			b.Next = "/admin/cashier?" + url.Values{"community": {b.Community}, "building": {b.Building}, "unit": {b.Unit}, "room": {b.Room}, "cursor": {page.Next}}.Encode()
		}
	} else if b.Community != "" {
		v.Error = "请选择小区"
	}
	return h.render(http.StatusOK, "cashier.html", v)
}

type billRow struct {
	ID, FeeItem, Period, Amount, Due string
	Selectable, Checked              bool
	State, StateClass, PaidHow       string
	ReceiptHref                      string
}

type entryRow struct {
	ID, At, Total, Method, OrderID, Note, By, Status, ReversedWhy string
	Active, CanReverse                                            bool
}

type cashierHouseBody struct {
	House, Owner, HouseID, Community string
	Bills                            []billRow
	Unpaid                           string // the total of the selectable bills
	Methods                          []deskOption
	Payments                         []deskOption // recent unlinked code payments of the community
	OrderID, Note                    string
	Entries                          []entryRow
	Remind                           *remindBlock // 催缴 (reminders.go)
}

func (h *Handler) cashierHouse(ctx context.Context, c *call) web.Response {
	return h.renderHouse(ctx, c, http.StatusOK, "", nil)
}

// renderHouse renders a house's desk; after a refused entry, errMsg says why
// and the form keeps what was chosen.
func (h *Handler) renderHouse(ctx context.Context, c *call, status int, errMsg string, chosen map[string]bool) web.Response {
	d, resp, ok := h.desk(c)
	if !ok {
		return resp
	}
	hd, err := d.House(ctx, c.p.CompanyID, c.params["hid"])
	if err != nil {
		return h.deskError(ctx, c, "cashier house", err)
	}
	now := d.Now()
	b := cashierHouseBody{House: hd.House.Label(), Owner: hd.House.OwnerName, HouseID: hd.House.ID}
	if cm, err := h.Store.GetCommunity(ctx, hd.House.CommunityID); err == nil && cm.CompanyID == c.p.CompanyID {
		b.Community = cm.Name
	}
	method := "cash"
	if c.form != nil {
		method, b.OrderID, b.Note = c.form.Get("method"), c.form.Get("order_id"), c.form.Get("note")
	}
	var unpaid int64
	for _, bl := range hd.Bills {
		r := billRow{ID: bl.ID, FeeItem: bl.FeeItem, Period: bl.Period, Amount: domain.FormatYuan(bl.AmountFen), Due: string(bl.DueDate)}
		switch {
		case bl.Status == bill.Paid:
			r.State, r.StateClass = "已缴", "ok"
			if bl.PaidBy.EntryID != "" {
				r.PaidHow = "收银台 · 收款单 " + bl.PaidBy.EntryID
				r.ReceiptHref = "/admin/cashier/entries/" + url.PathEscape(bl.PaidBy.EntryID)
				for _, e := range hd.Entries {
					if e.ID == bl.PaidBy.EntryID {
						r.PaidHow = "收银台 · " + e.Method.Label() + " · " + console.When(e.At)
					}
				}
			} else {
				r.PaidHow = "线上支付 · 订单 " + bl.PaidBy.OrderID + " · " + console.When(bl.PaidAt)
			}
		case bl.Status == bill.Waived:
			r.State, r.StateClass = "已减免", ""
		case bl.Held(now):
			r.State, r.StateClass, r.PaidHow = "正在支付", "warn", "住户正在扫码付款，请稍后刷新"
		default:
			r.State, r.StateClass, r.Selectable = "未缴", "bad", true
			r.Checked = chosen == nil || chosen[bl.ID]
			unpaid += bl.AmountFen
		}
		b.Bills = append(b.Bills, r)
	}
	b.Unpaid = domain.FormatYuan(unpaid)
	for _, m := range cashier.Methods() {
		b.Methods = append(b.Methods, deskOption{Value: string(m), Label: m.Label(), On: string(m) == method})
	}
	if pays, err := d.UnlinkedPayments(ctx, hd.House.CommunityID, 20); err == nil {
		for _, o := range pays {
			b.Payments = append(b.Payments, deskOption{Value: o.ID, Label: domain.FormatYuan(o.AmountFen) + " 元 · " + console.When(o.PaidAt) + " · " + o.ID,
				On: o.ID == b.OrderID})
		}
	} else {
		h.Log.ErrorContext(ctx, "unlinked payments", "err", err)
	}
	scope := staff.ScopeOf(c.p.Role, staff.BillsReverse)
	for _, e := range hd.Entries {
		b.Entries = append(b.Entries, h.entryRow(e, scope, c.p.StaffID))
	}
	b.Remind = h.houseRemindBlock(ctx, hd.House) // 催缴 (reminders.go)
	v := h.page(c, "收银台 · "+b.House, b)
	v.Error = errMsg
	return h.render(status, "cashier_house.html", v)
}

func (h *Handler) entryRow(e cashier.Entry, scope staff.Scope, me string) entryRow {
	r := entryRow{ID: e.ID, At: console.When(e.At), Total: domain.FormatYuan(e.TotalFen), Method: e.Method.Label(), OrderID: e.OrderID,
		Note: e.Note, By: e.ByName, Status: "有效", Active: e.Status == cashier.Active, ReversedWhy: e.ReversedWhy}
	if r.By == "" {
		r.By = e.By
	}
	if !r.Active {
		r.Status = "已冲正"
	}
	r.CanReverse = r.Active && (scope == staff.Company || (scope == staff.Own && e.By == me))
	return r
}

func (h *Handler) cashierMarkPaid(ctx context.Context, c *call) web.Response {
	d, resp, ok := h.desk(c)
	if !ok {
		return resp
	}
	orderID := strings.TrimSpace(c.form.Get("order_id"))
	if orderID == "" {
		orderID = c.form.Get("order_pick")
	}
	method := cashier.Method(c.form.Get("method"))
	if method != cashier.Code {
		orderID = "" // a typed or picked order id only counts for 扫码付款
	}
	chosen := map[string]bool{}
	for _, id := range c.form["bill"] {
		chosen[id] = true
	}
	e, err := h.markPaid(ctx, c, d, bills.MarkPaid{HouseID: c.params["hid"], BillIDs: c.form["bill"], Method: method, OrderID: orderID, Note: c.form.Get("note")})
	if err != nil {
		status, _, msg := bills.Describe(err)
		if status == http.StatusNotFound || status == http.StatusInternalServerError {
			return h.deskError(ctx, c, "cashier mark paid", err)
		}
		return h.renderHouse(ctx, c, status, msg, chosen)
	}
	return c.done("/admin/cashier/entries/"+url.PathEscape(e.ID), "paid")
}

type receiptLine struct{ FeeItem, Period, Amount string }

type receiptBody struct {
	Company, Community, House, Owner, HouseID string
	Lines                                     []receiptLine
	Total, Method, OrderID, Note, EntryID     string
	At, Cashier                               string
	Reversed                                  bool
	ReversedAt, ReversedWhy                   string
	CanReverse                                bool
}

func (h *Handler) cashierReceipt(ctx context.Context, c *call) web.Response {
	return h.renderReceipt(ctx, c, http.StatusOK, "")
}

func (h *Handler) renderReceipt(ctx context.Context, c *call, status int, errMsg string) web.Response {
	d, resp, ok := h.desk(c)
	if !ok {
		return resp
	}
	rc, err := d.Receipt(ctx, c.p.CompanyID, c.params["eid"])
	if err != nil {
		return h.deskError(ctx, c, "cashier receipt", err)
	}
	e := rc.Entry
	b := receiptBody{House: rc.House.Label(), Owner: rc.House.OwnerName, HouseID: rc.House.ID, Total: domain.FormatYuan(e.TotalFen),
		Method: e.Method.Label(), OrderID: e.OrderID, Note: e.Note, EntryID: e.ID, At: console.When(e.At), Cashier: e.ByName,
		Reversed: e.Status == cashier.Reversed, ReversedAt: console.When(e.ReversedAt), ReversedWhy: e.ReversedWhy}
	if co, err := h.Store.GetCompany(ctx, e.CompanyID); err == nil {
		b.Company = co.Name
	}
	if cm, err := h.Store.GetCommunity(ctx, e.CommunityID); err == nil && cm.CompanyID == c.p.CompanyID {
		b.Community = cm.Name
	}
	for _, bl := range rc.Bills {
		b.Lines = append(b.Lines, receiptLine{FeeItem: bl.FeeItem, Period: bl.Period, Amount: domain.FormatYuan(bl.AmountFen)})
	}
	b.CanReverse = h.entryRow(e, staff.ScopeOf(c.p.Role, staff.BillsReverse), c.p.StaffID).CanReverse
	v := h.page(c, "收据 "+e.ID, b)
	v.Error = errMsg
	return h.render(status, "cashier_receipt.html", v)
}

func (h *Handler) cashierReverse(ctx context.Context, c *call) web.Response {
	d, resp, ok := h.desk(c)
	if !ok {
		return resp
	}
	e, err := h.reverse(ctx, c, d, c.params["eid"], c.form.Get("reason"))
	if err != nil {
		status, _, msg := bills.Describe(err)
		if status == http.StatusNotFound || status == http.StatusInternalServerError {
			return h.deskError(ctx, c, "cashier reverse", err)
		}
		return h.renderReceipt(ctx, c, status, msg)
	}
	return c.done("/admin/cashier/entries/"+url.PathEscape(e.ID), "reversed")
}
