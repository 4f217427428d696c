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
	"time"

	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/calendar"
	dsettle "github.com/estatepay/estatepay/shared/domain/settlement"
	"github.com/estatepay/estatepay/shared/store"
	"github.com/estatepay/estatepay/shared/web"
)

// Settlement (issue 10; admins): a month's statements of the company's
// merchants and the reconciliation exceptions, resolvable with a note:
//
//	GET  /admin/settlement?month=2006-01                 the page (statements per day, exceptions)
//	GET  /admin/settlement.csv?month=2006-01             the statements as CSV
//	POST /admin/settlement/exceptions                    form: day, id, note, csrf → resolved, audited
//	GET  /admin/api/settlement?month=2006-01             JSON {statements, exceptions}
//	POST /admin/api/settlement/exceptions/resolve        JSON {day, id, note} → {"exception"}
//
// Statements are read per interface of the company (its merchant and
// channel) and kept only if they carry the company's id; exceptions are
// stored under the company.
func init() {
	register(
		route{method: "GET", pattern: "/admin/settlement", action: ActSettlementManage, handle: (*Handler).settlementPage},
		route{method: "GET", pattern: "/admin/settlement.csv", action: ActSettlementManage, handle: (*Handler).settlementCSV},
		route{method: "POST", pattern: "/admin/settlement/exceptions", action: ActSettlementManage, handle: (*Handler).settlementResolveForm},
		route{method: "GET", pattern: "/admin/api/settlement", action: ActSettlementManage, handle: (*Handler).apiSettlement},
		route{method: "POST", pattern: "/admin/api/settlement/exceptions/resolve", action: ActSettlementManage, handle: (*Handler).apiSettlementResolve},
	)
	actionNames["settlement.resolve"] = "处理对账差异"
	notices["resolved"] = "差异已处理，处理说明已记入操作日志"
}

// Settlements is the settlement store the console reads (*store.Settlements).
type Settlements interface {
	Statements(ctx context.Context, merchant, month string) ([]dsettle.Statement, error)
	Exceptions(ctx context.Context, companyID string, from, to calendar.Day) ([]dsettle.Exception, error)
	Exception(ctx context.Context, companyID string, day calendar.Day, id string) (dsettle.Exception, error)
	SaveException(ctx context.Context, e dsettle.Exception) error
}

// StatementJSON is a statement in the API (fen).
type StatementJSON struct {
	Day            string `json:"day"`
	Merchant       string `json:"merchant"`
	Channel        string `json:"channel"`
	Method         string `json:"method"`
	Count          int64  `json:"count"`
	GrossFen       int64  `json:"gross_fen"`
	RefundCount    int64  `json:"refund_count"`
	RefundFen      int64  `json:"refund_fen"`
	FeeFen         int64  `json:"fee_fen"`
	HeldFen        int64  `json:"held_fen"`
	ReleasedFen    int64  `json:"released_fen"`
	NetFen         int64  `json:"net_fen"`
	MonthToDateFen int64  `json:"month_to_date_fen"`
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

func statementJSON(s dsettle.Statement) StatementJSON {
	return StatementJSON{Day: string(s.Day), Merchant: s.Merchant, Channel: string(s.Channel), Method: s.Method, Count: s.Count, GrossFen: s.GrossFen,
		RefundCount: s.RefundCount, RefundFen: s.RefundFen, FeeFen: s.FeeFen, HeldFen: s.HeldFen, ReleasedFen: s.ReleasedFen, NetFen: s.NetFen, MonthToDateFen: s.MonthToDateFen}
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
		return string(calendar.BusinessDay(time.Now()))[:7], true
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
	}
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
		Month      string          `json:"month"`
		Statements []StatementJSON `json:"statements"`
		Exceptions []ExceptionJSON `json:"exceptions"`
	}{Month: d.month, Statements: []StatementJSON{}, Exceptions: []ExceptionJSON{}}
	for _, s := range d.statements {
		out.Statements = append(out.Statements, statementJSON(s))
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
	switch err := e.Resolve(note, "staff:"+c.p.StaffID, time.Now()); {
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
	Day, Merchant, Channel, Method            string
	Count, RefundCount                        int64
	Gross, Refunds, Fees, Held, Released, Net string
}

type exceptionRow struct {
	ID, Day, Merchant, Channel, Kind, OrderID, TxnID string
	Ours, Theirs, Detail, Status, Note, ResolvedBy   string
	Open                                             bool
}

type settlementBody struct {
	Month, Prev, Next, Company, Error string
	Statements                        []statementRow
	Exceptions                        []exceptionRow
	Open                              int
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
	b := settlementBody{Month: d.month, Prev: m.AddDate(0, -1, 0).Format("2006-01"), Next: m.AddDate(0, 1, 0).Format("2006-01"), Error: errMsg}
	if c.p.Role == RoleOperator {
		b.Company = d.co.ID
	}
	for _, s := range d.statements {
		b.Statements = append(b.Statements, statementRow{Day: string(s.Day), Merchant: s.Merchant, Channel: s.Channel.Name(), Method: methodName(s.Method),
			Count: s.Count, RefundCount: s.RefundCount, Gross: domain.FormatYuan(domain.Fen(s.GrossFen)), Refunds: domain.FormatYuan(domain.Fen(s.RefundFen)),
			Fees: domain.FormatYuan(domain.Fen(s.FeeFen)), Held: domain.FormatYuan(domain.Fen(s.HeldFen)),
			Released: domain.FormatYuan(domain.Fen(s.ReleasedFen)), Net: signedYuan(s.NetFen)})
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
