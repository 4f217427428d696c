package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/calendar"
	"github.com/estatepay/estatepay/shared/domain/order"
	"github.com/estatepay/estatepay/shared/domain/refund"
	dsettle "github.com/estatepay/estatepay/shared/domain/settlement"
	"github.com/estatepay/estatepay/shared/domain/staff"
	"github.com/estatepay/estatepay/shared/settlement"
	"github.com/estatepay/estatepay/shared/store"
	"github.com/estatepay/estatepay/shared/web"
)

// Settlement (issue 10): a month's statements of the company's merchants,
// the reconciliation exceptions, resolvable with a note, and the payments
// held out of settlement (S3), held and released here:
//
//	GET  /admin/settlement?month=2006-01                 the page (statements per day, holds, exceptions)
//	GET  /admin/settlement.csv?month=2006-01             the statements as CSV
//	POST /admin/settlement/exceptions                    form: day, id, note, csrf → resolved, audited
//	POST /admin/settlement/holds                         form: order_id, reason, csrf → held, audited
//	POST /admin/settlement/holds/release                 form: order_id, csrf → released, audited
//	GET  /admin/api/settlement?month=2006-01             JSON {statements, holds, exceptions}
//	POST /admin/api/settlement/exceptions/resolve        JSON {day, id, note} → {"exception"}
//	POST /admin/api/settlement/holds                     JSON {order_id, reason} → 201 {"hold"}
//	POST /admin/api/settlement/holds/release             JSON {order_id} → {"hold"}
//
// Who may do what is the staff permission table's: admins and risk officers
// read the statements and hold and release payments (settlement.view,
// settlement.hold); resolving an exception is the refunds permission
// (admins). Statements are read per interface of the company (its merchant
// and channel) and kept only if they carry the company's id; exceptions are
// stored under the company; a hold is of one of the company's payments.
func init() {
	staffActions[ActSettlementView] = staff.SettlementView
	staffActions[ActSettlementHold] = staff.SettlementHold
	register(
		route{method: "GET", pattern: "/admin/settlement", action: ActSettlementView, handle: (*Handler).settlementPage},
		route{method: "GET", pattern: "/admin/settlement.csv", action: ActSettlementView, handle: (*Handler).settlementCSV},
		route{method: "POST", pattern: "/admin/settlement/exceptions", action: ActSettlementManage, handle: (*Handler).settlementResolveForm},
		route{method: "POST", pattern: "/admin/settlement/holds", action: ActSettlementHold, handle: (*Handler).holdForm},
		route{method: "POST", pattern: "/admin/settlement/holds/release", action: ActSettlementHold, handle: (*Handler).releaseForm},
		route{method: "GET", pattern: "/admin/api/settlement", action: ActSettlementView, handle: (*Handler).apiSettlement},
		route{method: "POST", pattern: "/admin/api/settlement/exceptions/resolve", action: ActSettlementManage, handle: (*Handler).apiSettlementResolve},
		route{method: "POST", pattern: "/admin/api/settlement/holds", action: ActSettlementHold, handle: (*Handler).apiHold},
		route{method: "POST", pattern: "/admin/api/settlement/holds/release", action: ActSettlementHold, handle: (*Handler).apiRelease},
	)
	actionNames["settlement.resolve"] = "处理对账差异"
	actionNames["settlement.hold"] = "暂缓结算"
	actionNames["settlement.release"] = "放行暂缓结算"
	notices["resolved"] = "差异已处理，处理说明已记入操作日志"
	notices["held"] = "已暂缓结算：该笔付款不计入其营业日的结算金额，放行后计入放行当日的结算单"
	notices["released"] = "已放行：该笔付款计入今日的结算单（次日结算）"
}

// The console's settlement actions (permissions.go has the others).
const (
	// ActSettlementView: statements and exceptions (admins, risk officers).
	ActSettlementView Action = "settlement.view"
	// ActSettlementHold: hold a payment out of settlement, release it
	// (admins, risk officers).
	ActSettlementHold Action = "settlement.hold"
)

// Settlements is the settlement store the console reads and writes
// (*store.Settlements).
type Settlements interface {
	Statements(ctx context.Context, merchant, month string) ([]dsettle.Statement, error)
	Exceptions(ctx context.Context, companyID string, from, to calendar.Day) ([]dsettle.Exception, error)
	Exception(ctx context.Context, companyID string, day calendar.Day, id string) (dsettle.Exception, error)
	SaveException(ctx context.Context, e dsettle.Exception) error
	Holds(ctx context.Context, ch domain.Channel, merchant string) ([]dsettle.Hold, error)
	Hold(ctx context.Context, ch domain.Channel, merchant, orderID string) (dsettle.Hold, error)
	PlaceHold(ctx context.Context, h dsettle.Hold, today calendar.Day) error
	PutHold(ctx context.Context, h dsettle.Hold) error
}

// settlementNow is the time of holds, releases and resolutions.
func (h *Handler) settlementNow() time.Time {
	if h.SettlementClock != nil {
		return h.SettlementClock()
	}
	return time.Now()
}

// HoldJSON is a hold in the API (S3).
type HoldJSON struct {
	OrderID     string `json:"order_id"`
	Merchant    string `json:"merchant"`
	Channel     string `json:"channel"`
	Method      string `json:"method"`
	AmountFen   int64  `json:"amount_fen"`
	PaidDay     string `json:"paid_day"`
	Reason      string `json:"reason"`
	By          string `json:"by"`
	HeldAt      string `json:"held_at"`
	Status      string `json:"status"`                 // HELD, RELEASED
	ReleasedDay string `json:"released_day,omitempty"` // the statement it joins
	ReleasedBy  string `json:"released_by,omitempty"`
}

func holdJSON(h dsettle.Hold) HoldJSON {
	out := HoldJSON{OrderID: h.OrderID, Merchant: h.Merchant, Channel: string(h.Channel), Method: h.Method, AmountFen: h.AmountFen,
		PaidDay: string(h.PaidDay), Reason: h.Reason, By: h.By, HeldAt: shanghai(h.HeldAt), Status: "HELD",
		ReleasedDay: string(h.ReleasedDay), ReleasedBy: h.ReleasedBy}
	if h.ReleasedDay != "" {
		out.Status = "RELEASED"
	}
	return out
}

// ExceptionJSON is an exception in the API.
type ExceptionJSON struct {
	ID            string `json:"id"`
	Day           string `json:"day"`
	Merchant      string `json:"merchant"`
	Channel       string `json:"channel"`
	Kind          string `json:"kind"`
	OrderID       string `json:"order_id"`
	ProviderTxnID string `json:"provider_txn_id"`
	OurFen        int64  `json:"our_fen"`
	TheirFen      int64  `json:"their_fen"`
	Detail        string `json:"detail"`
	Repaired      bool   `json:"repaired"`
	Status        string `json:"status"`
	FoundAt       string `json:"found_at"`
	Note          string `json:"note,omitempty"`
	ResolvedBy    string `json:"resolved_by,omitempty"`
	ResolvedAt    string `json:"resolved_at,omitempty"`
}

func exceptionJSON(e dsettle.Exception) ExceptionJSON {
	return ExceptionJSON{ID: e.ID, Day: string(e.Day), Merchant: e.Merchant, Channel: string(e.Channel), Kind: string(e.Kind), OrderID: e.OrderID,
		ProviderTxnID: e.ProviderTxnID, OurFen: e.OurFen, TheirFen: e.TheirFen, Detail: e.Detail, Repaired: e.Repaired, Status: string(e.Status),
		FoundAt: shanghai(e.FoundAt), Note: e.Note, ResolvedBy: e.ResolvedBy, ResolvedAt: shanghai(e.ResolvedAt)}
}

// settlementMonth is the ?month= asked (default: this month, Asia/Shanghai).
func (h *Handler) settlementMonth(c *call) (string, bool) {
	m := c.req.QueryStringParameters["month"]
	if m == "" {
		return string(calendar.BusinessDay(h.settlementNow()))[:7], true
	}
	if _, err := time.Parse("2006-01", m); err != nil {
		return "", false
	}
	return m, true
}

type settlementData struct {
	co         store.Company
	month      string
	statements []dsettle.Statement
	holds      []dsettle.Hold // held, or paid or released in the month
	exceptions []dsettle.Exception
}

// loadSettlement reads the month of the caller's company.
func (h *Handler) loadSettlement(ctx context.Context, c *call) (settlementData, web.Response, bool) {
	if h.Settlements == nil {
		return settlementData{}, h.fail(c, http.StatusNotImplemented, "not_implemented", "该功能即将上线"), false
	}
	co, resp, ok := h.scope(ctx, c)
	if !ok {
		return settlementData{}, resp, false
	}
	month, ok := h.settlementMonth(c)
	if !ok {
		return settlementData{}, h.fail(c, http.StatusBadRequest, "invalid", "月份格式应为 2006-01"), false
	}
	d := settlementData{co: co, month: month}
	ifaces, err := h.Store.ListInterfaces(ctx, co.ID)
	if err != nil {
		return d, h.internal(ctx, c, "list interfaces", err), false
	}
	seen := map[string]bool{}
	for _, i := range ifaces {
		m := i.PaymentMerchant()
		if m == "" || seen[string(i.Channel)+"|"+m] {
			continue
		}
		seen[string(i.Channel)+"|"+m] = true
		sts, err := h.Settlements.Statements(ctx, m, month)
		if err != nil {
			return d, h.internal(ctx, c, "statements", err), false
		}
		for _, s := range sts {
			if s.CompanyID == co.ID && s.Channel == i.Channel {
				d.statements = append(d.statements, s)
			}
		}
		hs, err := h.Settlements.Holds(ctx, i.Channel, m)
		if err != nil {
			return d, h.internal(ctx, c, "holds", err), false
		}
		for _, x := range hs {
			if x.CompanyID == co.ID && (x.ReleasedDay == "" || strings.HasPrefix(string(x.PaidDay), month) || strings.HasPrefix(string(x.ReleasedDay), month)) {
				d.holds = append(d.holds, x)
			}
		}
	}
	sort.SliceStable(d.holds, func(i, j int) bool {
		a, b := d.holds[i], d.holds[j]
		if (a.ReleasedDay == "") != (b.ReleasedDay == "") {
			return a.ReleasedDay == "" // held first
		}
		return a.HeldAt.After(b.HeldAt)
	})
	sort.SliceStable(d.statements, func(i, j int) bool {
		a, b := d.statements[i], d.statements[j]
		if a.Day != b.Day {
			return a.Day > b.Day
		}
		return a.Merchant+string(a.Channel)+a.Method < b.Merchant+string(b.Channel)+b.Method
	})
	first := calendar.Day(month + "-01")
	last := calendar.Day(month + "-31")
	if d.exceptions, err = h.Settlements.Exceptions(ctx, co.ID, first, last); err != nil {
		return d, h.internal(ctx, c, "exceptions", err), false
	}
	return d, web.Response{}, true
}

func (h *Handler) apiSettlement(ctx context.Context, c *call) web.Response {
	d, resp, ok := h.loadSettlement(ctx, c)
	if !ok {
		return resp
	}
	out := struct {
		Month      string                     `json:"month"`
		Statements []settlement.StatementView `json:"statements"`
		Holds      []HoldJSON                 `json:"holds"`
		Exceptions []ExceptionJSON            `json:"exceptions"`
	}{Month: d.month, Statements: []settlement.StatementView{}, Holds: []HoldJSON{}, Exceptions: []ExceptionJSON{}}
	for _, s := range d.statements {
		out.Statements = append(out.Statements, settlement.View(s))
	}
	for _, x := range d.holds {
		out.Holds = append(out.Holds, holdJSON(x))
	}
	for _, e := range d.exceptions {
		out.Exceptions = append(out.Exceptions, exceptionJSON(e))
	}
	return web.JSON(http.StatusOK, out)
}

func methodName(m string) string {
	if m == dsettle.MethodFenfu {
		return "分付"
	}
	return "普通支付"
}

func (h *Handler) settlementCSV(ctx context.Context, c *call) web.Response {
	d, resp, ok := h.loadSettlement(ctx, c)
	if !ok {
		return resp
	}
	var b bytes.Buffer
	b.WriteString("\ufeff") // Excel reads UTF-8 with a BOM
	w := csv.NewWriter(&b)
	_ = w.Write([]string{"营业日", "商户号", "渠道", "支付方式", "笔数", "交易金额(元)", "退款笔数", "退款金额(元)", "手续费(元)", "暂缓结算(元)", "放行(元)", "结算金额(元)"})
	for _, s := range d.statements {
		_ = w.Write([]string{string(s.Day), csvSafe(s.Merchant), s.Channel.Name(), methodName(s.Method), strconv.FormatInt(s.Count, 10),
			domain.FormatYuan(domain.Fen(s.GrossFen)), strconv.FormatInt(s.RefundCount, 10), domain.FormatYuan(domain.Fen(s.RefundFen)),
			domain.FormatYuan(domain.Fen(s.FeeFen)), domain.FormatYuan(domain.Fen(s.HeldFen)), domain.FormatYuan(domain.Fen(s.ReleasedFen)), signedYuan(s.NetFen)})
	}
	w.Flush()
	r := file("text/csv; charset=utf-8", b.Bytes(), false)
	r.Headers["Content-Disposition"] = `attachment; filename="settlement-` + asciiName(d.month) + `.csv"; filename*=UTF-8''` + url.PathEscape(d.co.Name+"-结算单-"+d.month+".csv")
	return r
}

// csvSafe keeps a cell from being read as a formula by a spreadsheet.
func csvSafe(s string) string {
	if s != "" && (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@') {
		return "'" + s
	}
	return s
}

func signedYuan(fen int64) string {
	if fen < 0 {
		return "-" + domain.FormatYuan(domain.Fen(-fen))
	}
	return domain.FormatYuan(domain.Fen(fen))
}

// resolveException resolves the caller's company's exception and audits it.
func (h *Handler) resolveException(ctx context.Context, c *call, co store.Company, day, id, note string) (dsettle.Exception, int, string, string) {
	d, err := calendar.ParseDay(day)
	if err != nil || id == "" || len(id) > 300 {
		return dsettle.Exception{}, http.StatusNotFound, "not_found", "您要找的内容不存在"
	}
	e, err := h.Settlements.Exception(ctx, co.ID, d, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && e.CompanyID != co.ID) {
		return e, http.StatusNotFound, "not_found", "您要找的内容不存在"
	}
	if err != nil {
		h.Log.ErrorContext(ctx, "get exception", "err", err)
		return e, http.StatusInternalServerError, "internal", "系统繁忙，请稍后再试"
	}
	before := exceptionJSON(e)
	switch err := e.Resolve(note, "staff:"+c.p.StaffID, h.settlementNow()); {
	case errors.Is(err, dsettle.ErrAlreadyResolved):
		return e, http.StatusConflict, "already_resolved", "该差异已处理"
	case errors.Is(err, dsettle.ErrNoNote):
		return e, http.StatusBadRequest, "invalid", "请填写处理说明"
	case errors.Is(err, dsettle.ErrNoteTooLong):
		return e, http.StatusBadRequest, "invalid", "处理说明最多 500 字"
	case err != nil:
		return e, http.StatusBadRequest, "invalid", "无法处理该差异"
	}
	if err := h.Settlements.SaveException(ctx, e); errors.Is(err, store.ErrSettleConflict) {
		return e, http.StatusConflict, "busy", "该差异刚被他人处理，请刷新页面"
	} else if err != nil {
		h.Log.ErrorContext(ctx, "save exception", "err", err)
		return e, http.StatusInternalServerError, "internal", "系统繁忙，请稍后再试"
	}
	e.Version++
	h.audit(ctx, c, "settlement.resolve", "exception", e.ID, before, exceptionJSON(e))
	return e, http.StatusOK, "", ""
}

func (h *Handler) apiSettlementResolve(ctx context.Context, c *call) web.Response {
	if h.Settlements == nil {
		return h.fail(c, http.StatusNotImplemented, "not_implemented", "该功能即将上线")
	}
	co, resp, ok := h.scope(ctx, c)
	if !ok {
		return resp
	}
	var in struct{ Day, ID, Note string }
	if !decodeJSON(c, &in) {
		return web.Error(http.StatusBadRequest, "invalid", "请求须为 JSON：{day, id, note}")
	}
	e, status, code, msg := h.resolveException(ctx, c, co, in.Day, in.ID, in.Note)
	if status != http.StatusOK {
		return web.Error(status, code, msg)
	}
	return web.JSON(http.StatusOK, map[string]any{"exception": exceptionJSON(e)})
}

func (h *Handler) settlementResolveForm(ctx context.Context, c *call) web.Response {
	if h.Settlements == nil {
		return h.fail(c, http.StatusNotImplemented, "not_implemented", "该功能即将上线")
	}
	co, resp, ok := h.scope(ctx, c)
	if !ok {
		return resp
	}
	day := c.form.Get("day")
	_, status, _, msg := h.resolveException(ctx, c, co, day, c.form.Get("id"), c.form.Get("note"))
	month := ""
	if len(day) >= 7 {
		month = day[:7]
	}
	if status != http.StatusOK {
		return h.renderSettlement(ctx, c, status, msg)
	}
	q := url.Values{"month": {month}, "done": {"resolved"}}
	if c.p.Role == RoleOperator {
		q.Set("company", co.ID)
	}
	return web.Redirect("/admin/settlement?" + q.Encode())
}

type statementRow struct {
	Day, Merchant, Channel, Method               string
	Count, RefundCount, HeldCount, ReleasedCount int64
	Gross, Refunds, Fees, Held, Released, Net    string
}

type exceptionRow struct {
	ID, Day, Merchant, Channel, Kind, OrderID, TxnID string
	Ours, Theirs, Detail, Status, Note, ResolvedBy   string
	Open                                             bool
}

type holdRow struct {
	OrderID, Merchant, Channel, Method, Amount, PaidDay, Reason, By, HeldAt string
	ReleasedDay, ReleasedBy                                                 string
	Held                                                                    bool
}

type settlementBody struct {
	Month, Prev, Next, Company, Error string
	Statements                        []statementRow
	Holds                             []holdRow
	Exceptions                        []exceptionRow
	Open                              int
	// What the caller may do here (the permission table): resolve
	// exceptions, hold and release payments.
	CanResolve, CanHold bool
}

var kindNames = map[dsettle.Kind]string{
	dsettle.MissingLocal: "本系统缺失", dsettle.MissingProvider: "渠道缺失", dsettle.AmountDiffers: "金额不符",
	dsettle.StatusDiffers: "状态不符", dsettle.FeeDiffers: "手续费不符",
}

func (h *Handler) settlementPage(ctx context.Context, c *call) web.Response {
	return h.renderSettlement(ctx, c, http.StatusOK, "")
}

func (h *Handler) renderSettlement(ctx context.Context, c *call, status int, errMsg string) web.Response {
	d, resp, ok := h.loadSettlement(ctx, c)
	if !ok {
		return resp
	}
	m, _ := time.Parse("2006-01", d.month)
	b := settlementBody{Month: d.month, Prev: m.AddDate(0, -1, 0).Format("2006-01"), Next: m.AddDate(0, 1, 0).Format("2006-01"), Error: errMsg,
		CanResolve: can(c.p.Role, ActSettlementManage), CanHold: can(c.p.Role, ActSettlementHold)}
	if c.p.Role == RoleOperator {
		b.Company = d.co.ID
	}
	for _, s := range d.statements {
		b.Statements = append(b.Statements, statementRow{Day: string(s.Day), Merchant: s.Merchant, Channel: s.Channel.Name(), Method: methodName(s.Method),
			Count: s.Count, RefundCount: s.RefundCount, HeldCount: s.HeldCount, ReleasedCount: s.ReleasedCount, Gross: domain.FormatYuan(domain.Fen(s.GrossFen)), Refunds: domain.FormatYuan(domain.Fen(s.RefundFen)),
			Fees: domain.FormatYuan(domain.Fen(s.FeeFen)), Held: domain.FormatYuan(domain.Fen(s.HeldFen)),
			Released: domain.FormatYuan(domain.Fen(s.ReleasedFen)), Net: signedYuan(s.NetFen)})
	}
	for _, x := range d.holds {
		b.Holds = append(b.Holds, holdRow{OrderID: x.OrderID, Merchant: x.Merchant, Channel: x.Channel.Name(), Method: methodName(x.Method),
			Amount: domain.FormatYuan(domain.Fen(x.AmountFen)), PaidDay: string(x.PaidDay), Reason: x.Reason, By: x.By,
			HeldAt: calendar.FormatReadable(x.HeldAt), ReleasedDay: string(x.ReleasedDay), ReleasedBy: x.ReleasedBy, Held: x.ReleasedDay == ""})
	}
	for _, e := range d.exceptions {
		r := exceptionRow{ID: e.ID, Day: string(e.Day), Merchant: e.Merchant, Channel: e.Channel.Name(), Kind: kindNames[e.Kind], OrderID: e.OrderID,
			TxnID: e.ProviderTxnID, Ours: signedYuan(e.OurFen), Theirs: signedYuan(e.TheirFen), Detail: e.Detail, Note: e.Note, ResolvedBy: e.ResolvedBy,
			Open: e.Status == dsettle.Open}
		r.Status = "已处理"
		if r.Open {
			r.Status = "待处理"
			b.Open++
		}
		b.Exceptions = append(b.Exceptions, r)
	}
	return h.render(status, "settlement.html", h.page(c, "结算对账", b))
}

// ---------------------------------------------------------------- holds (S3)

// maxOrderID bounds an order id from a form or a body (ours are 28).
const maxOrderID = 64

// settlementOrder is one of the company's payments by id (ok false: 404,
// as for an unknown id; a refund's id is no payment).
func (h *Handler) settlementOrder(ctx context.Context, co store.Company, id string) (order.Order, bool, error) {
	id = strings.TrimSpace(id)
	if id == "" || len(id) > maxOrderID || refund.IsID(id) {
		return order.Order{}, false, nil
	}
	o, err := h.Store.OrderRepo().Get(ctx, id)
	if errors.Is(err, order.ErrNotFound) {
		return o, false, nil
	}
	if err != nil {
		return o, false, err
	}
	return o, o.CompanyID == co.ID, nil
}

// placeHold holds one of the company's payments out of settlement and
// audits it: the whole payment, on the statement of its payment day
// (refused when that day, before today, is settled already).
func (h *Handler) placeHold(ctx context.Context, c *call, co store.Company, orderID, reason string) (dsettle.Hold, int, string, string) {
	o, ok, err := h.settlementOrder(ctx, co, orderID)
	if err != nil {
		h.Log.ErrorContext(ctx, "get order", "err", err)
		return dsettle.Hold{}, http.StatusInternalServerError, "internal", "系统繁忙，请稍后再试"
	}
	if !ok {
		return dsettle.Hold{}, http.StatusNotFound, "not_found", "没有这笔付款，请核对订单号"
	}
	now := h.settlementNow()
	hold, err := dsettle.NewHold(o, reason, "staff:"+c.p.StaffID, now)
	if err != nil {
		return hold, http.StatusBadRequest, "invalid", strings.TrimPrefix(err.Error(), dsettle.ErrHoldInvalid.Error()+": ")
	}
	switch err := h.Settlements.PlaceHold(ctx, hold, calendar.BusinessDay(now)); {
	case errors.Is(err, store.ErrHoldExists):
		return hold, http.StatusConflict, "already_held", "该笔付款已暂缓结算过，不能重复暂缓"
	case errors.Is(err, store.ErrDaySettled):
		return hold, http.StatusConflict, "day_settled", "该笔付款所在营业日 " + string(hold.PaidDay) + " 已结算，不能再暂缓"
	case err != nil:
		h.Log.ErrorContext(ctx, "place hold", "err", err)
		return hold, http.StatusInternalServerError, "internal", "系统繁忙，请稍后再试"
	}
	hold.Version = 1
	h.audit(ctx, c, "settlement.hold", "order", o.ID, nil, holdJSON(hold))
	return hold, http.StatusCreated, "", ""
}

// releaseHold releases the hold of one of the company's payments, under its
// version, onto today's statement, and audits it.
func (h *Handler) releaseHold(ctx context.Context, c *call, co store.Company, orderID string) (dsettle.Hold, int, string, string) {
	o, ok, err := h.settlementOrder(ctx, co, orderID)
	if err != nil {
		h.Log.ErrorContext(ctx, "get order", "err", err)
		return dsettle.Hold{}, http.StatusInternalServerError, "internal", "系统繁忙，请稍后再试"
	}
	if !ok {
		return dsettle.Hold{}, http.StatusNotFound, "not_found", "没有这笔付款，请核对订单号"
	}
	hold, err := h.Settlements.Hold(ctx, o.Channel, o.MerchantID, o.ID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && hold.CompanyID != co.ID) {
		return hold, http.StatusConflict, "not_held", "该笔付款没有暂缓结算"
	}
	if err != nil {
		h.Log.ErrorContext(ctx, "get hold", "err", err)
		return hold, http.StatusInternalServerError, "internal", "系统繁忙，请稍后再试"
	}
	before := holdJSON(hold)
	if err := hold.Release(calendar.BusinessDay(h.settlementNow()), "staff:"+c.p.StaffID); errors.Is(err, dsettle.ErrNotHeld) {
		return hold, http.StatusConflict, "already_released", "该笔暂缓已于 " + string(hold.ReleasedDay) + " 放行"
	}
	if err := h.Settlements.PutHold(ctx, hold); errors.Is(err, store.ErrSettleConflict) {
		return hold, http.StatusConflict, "busy", "该笔暂缓刚被他人处理，请刷新页面"
	} else if err != nil {
		h.Log.ErrorContext(ctx, "release hold", "err", err)
		return hold, http.StatusInternalServerError, "internal", "系统繁忙，请稍后再试"
	}
	hold.Version++
	h.audit(ctx, c, "settlement.release", "order", o.ID, before, holdJSON(hold))
	return hold, http.StatusOK, "", ""
}

func (h *Handler) apiHold(ctx context.Context, c *call) web.Response {
	return h.apiHoldAction(ctx, c, true)
}

func (h *Handler) apiRelease(ctx context.Context, c *call) web.Response {
	return h.apiHoldAction(ctx, c, false)
}

func (h *Handler) apiHoldAction(ctx context.Context, c *call, place bool) web.Response {
	if h.Settlements == nil {
		return h.fail(c, http.StatusNotImplemented, "not_implemented", "该功能即将上线")
	}
	co, resp, ok := h.scope(ctx, c)
	if !ok {
		return resp
	}
	var in struct {
		OrderID string `json:"order_id"`
		Reason  string `json:"reason"`
	}
	if !decodeJSON(c, &in) {
		return web.Error(http.StatusBadRequest, "invalid", "请求须为 JSON：{order_id, reason}")
	}
	var hold dsettle.Hold
	var status int
	var code, msg string
	if place {
		hold, status, code, msg = h.placeHold(ctx, c, co, in.OrderID, in.Reason)
	} else {
		hold, status, code, msg = h.releaseHold(ctx, c, co, in.OrderID)
	}
	if code != "" {
		return web.Error(status, code, msg)
	}
	return web.JSON(status, map[string]any{"hold": holdJSON(hold)})
}

func (h *Handler) holdForm(ctx context.Context, c *call) web.Response {
	return h.holdFormAction(ctx, c, true)
}

func (h *Handler) releaseForm(ctx context.Context, c *call) web.Response {
	return h.holdFormAction(ctx, c, false)
}

func (h *Handler) holdFormAction(ctx context.Context, c *call, place bool) web.Response {
	if h.Settlements == nil {
		return h.fail(c, http.StatusNotImplemented, "not_implemented", "该功能即将上线")
	}
	co, resp, ok := h.scope(ctx, c)
	if !ok {
		return resp
	}
	var status int
	var code, msg, done string
	if place {
		_, status, code, msg = h.placeHold(ctx, c, co, c.form.Get("order_id"), c.form.Get("reason"))
		done = "held"
	} else {
		_, status, code, msg = h.releaseHold(ctx, c, co, c.form.Get("order_id"))
		done = "released"
	}
	if code != "" {
		return h.renderSettlement(ctx, c, status, msg)
	}
	q := url.Values{"done": {done}}
	if m := c.form.Get("month"); len(m) == 7 {
		q.Set("month", m)
	}
	if c.p.Role == RoleOperator {
		q.Set("company", co.ID)
	}
	return web.Redirect("/admin/settlement?" + q.Encode())
}
