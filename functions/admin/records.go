package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/calendar"
	"github.com/estatepay/estatepay/shared/domain/order"
	"github.com/estatepay/estatepay/shared/store"
	"github.com/estatepay/estatepay/shared/web"
)

// RecordsDirectory is the directory as the records read it (*store.Store).
type RecordsDirectory interface {
	GetCommunity(ctx context.Context, id string) (store.Community, error)
	GetCompany(ctx context.Context, id string) (store.Company, error)
}

// RecordsSource reads the records index (*store.Orders).
type RecordsSource interface {
	QueryRecords(ctx context.Context, communityID string, f store.RecordFilter, after string, limit int) (store.RecordsPage, error)
	EachRecord(ctx context.Context, communityID string, f store.RecordFilter, fn func(order.Order) error) error
}

// Records serves a community's collection records (C7):
//
//	GET /admin/api/communities/{id}/payments      JSON page, newest first
//	GET /admin/api/communities/{id}/payments.csv  every matching record as CSV
//
// Filters (query string, all optional): from, to (business days
// YYYY-MM-DD, Asia/Shanghai, inclusive), channel (wechat|alipay), status
// (PAID|REFUNDED), min, max (yuan, e.g. 12.50, inclusive), q (keyword over
// payer fields, payer id, order id, transaction id); JSON also limit
// (1-100, default 20) and cursor (next_cursor of the previous page).
type Records struct {
	Directory RecordsDirectory
	Orders    RecordsSource
	Log       *slog.Logger
	// Now is the clock the export checks the Lambda deadline against.
	Now func() time.Time
}

// Limits of the records endpoints.
const (
	defaultRecordsPage = 20
	maxRecordsPage     = 100
	// MaxExportBytes caps one CSV export: the whole CSV is the body of one
	// Lambda response, and an HttpApi Lambda response is at most 6 MB
	// (payload JSON included, where quotes and line breaks take 2 bytes).
	// 5 MiB counted as they will be sent is about 30,000 records.
	MaxExportBytes = 5 << 20
	// exportReserve is how long before the Lambda deadline an export gives
	// up, so that the 413 still goes out.
	exportReserve = 1500 * time.Millisecond
)

// Messages of the records endpoints.
const (
	msgExportTooLarge = "导出的记录超过 5 MB（约 3 万条）上限，请缩小日期范围或增加筛选条件后分段导出"
	msgExportTooSlow  = "导出的记录太多，未能及时完成，请缩小日期范围或增加筛选条件后分段导出"
)

// ParseRecordFilter reads the filters of a records request.
func ParseRecordFilter(q map[string]string) (store.RecordFilter, error) {
	f := store.RecordFilter{
		From: calendar.Day(strings.TrimSpace(q["from"])), To: calendar.Day(strings.TrimSpace(q["to"])),
		Channel: domain.Channel(strings.ToLower(strings.TrimSpace(q["channel"]))),
		Status:  order.Status(strings.ToUpper(strings.TrimSpace(q["status"]))),
		Keyword: strings.TrimSpace(q["q"]),
		HouseID: strings.TrimSpace(q["house"]),
	}
	for _, b := range []struct {
		param, name string
		to          *int64
	}{{"min", "最低金额", &f.MinFen}, {"max", "最高金额", &f.MaxFen}} {
		if s := strings.TrimSpace(q[b.param]); s != "" {
			fen, err := domain.ParseYuan(s)
			if err != nil {
				return f, fmt.Errorf("%w: %s格式不正确，例如 12.50", store.ErrBadFilter, b.name)
			}
			*b.to = fen
		}
	}
	return f, f.Check()
}

// recordsError is a records request that gets no records: its HTTP status,
// error code and message (Chinese).
type recordsError struct {
	status    int
	code, msg string
}

func (e *recordsError) Error() string { return e.msg }

var errRecordsInternal = &recordsError{http.StatusInternalServerError, "internal", "服务暂时不可用，请稍后再试"}

// errorResponse is the JSON answer of a records error.
func errorResponse(err error) web.Response {
	var re *recordsError
	if !errors.As(err, &re) {
		re = errRecordsInternal
	}
	return web.Error(re.status, re.code, re.msg)
}

// find reads the tenant's community id (404 for another company's, as for
// none).
func (h *Records) find(ctx context.Context, t Tenant, id string) (store.Community, error) {
	com, err := h.Directory.GetCommunity(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !t.Sees(com.CompanyID)) {
		return com, &recordsError{http.StatusNotFound, "not_found", msgNoCommunity}
	}
	if err != nil {
		h.Log.ErrorContext(ctx, "get community", "err", err)
		return com, errRecordsInternal
	}
	return com, nil
}

// community finds the tenant's community {id}, or answers.
func (h *Records) community(ctx context.Context, t Tenant, req web.Request) (store.Community, web.Response, bool) {
	com, err := h.find(ctx, t, req.PathParameters["id"])
	if err != nil {
		return com, errorResponse(err), false
	}
	return com, web.Response{}, true
}

// RecordJSON is one collection record in the API. Times are ISO 8601 in
// Asia/Shanghai with the offset (2026-11-29T10:00:05+08:00).
type RecordJSON struct {
	OrderID       string            `json:"order_id"`
	AmountFen     int64             `json:"amount_fen"`
	Amount        string            `json:"amount"` // yuan, two decimals
	Channel       domain.Channel    `json:"channel"`
	Status        order.Status      `json:"status"` // PAID, or REFUNDED when the money went back
	PaidAt        string            `json:"paid_at"`
	BusinessDay   string            `json:"business_day"`
	RefundedAt    string            `json:"refunded_at,omitempty"`
	RefundedFen   int64             `json:"refunded_fen"`            // refunded so far (confirmed by the provider; part or all)
	BillsRefused  bool              `json:"bills_refused,omitempty"` // paid for bills someone else had paid: refunded automatically
	ProviderTxnID string            `json:"provider_txn_id"`
	PayerID       string            `json:"payer_id"`
	Fields        map[string]string `json:"fields,omitempty"` // payer fields (M5), e.g. {"room":"3-201"}
}

// RecordsPageJSON is the response of the records endpoint.
type RecordsPageJSON struct {
	CommunityID string       `json:"community_id"`
	Community   string       `json:"community"`
	Payments    []RecordJSON `json:"payments"`
	NextCursor  string       `json:"next_cursor,omitempty"`
}

// RecordOf is the API form of a paid order.
func RecordOf(o order.Order) RecordJSON {
	r := RecordJSON{
		OrderID: o.ID, AmountFen: o.AmountFen, Amount: domain.FormatYuan(o.AmountFen), Channel: o.Channel,
		Status: o.Status, PaidAt: calendar.Format(o.PaidAt), BusinessDay: string(calendar.BusinessDay(o.PaidAt)),
		ProviderTxnID: o.ProviderTxnID, PayerID: o.PayerID, Fields: o.Fields, RefundedFen: refundedFen(o), BillsRefused: o.BillsRefused,
	}
	if !o.RefundedAt.IsZero() {
		r.RefundedAt = calendar.Format(o.RefundedAt)
	}
	return r
}

func badFilter(err error) *recordsError {
	return &recordsError{http.StatusBadRequest, "invalid", store.FilterMessage(err)}
}

func badFilterResponse(err error) web.Response { return errorResponse(badFilter(err)) }

// JSON answers one page of records.
func (h *Records) JSON(ctx context.Context, t Tenant, req web.Request) web.Response {
	page, err := h.Query(ctx, t, req)
	if err != nil {
		return errorResponse(err)
	}
	return web.JSON(http.StatusOK, page)
}

// Query reads one page of the records of the tenant's community {id} with
// the request's filters, limit and cursor (the JSON answer and the records
// page); its errors are *recordsError.
func (h *Records) Query(ctx context.Context, t Tenant, req web.Request) (RecordsPageJSON, error) {
	com, err := h.find(ctx, t, req.PathParameters["id"])
	if err != nil {
		return RecordsPageJSON{}, err
	}
	f, err := ParseRecordFilter(req.QueryStringParameters)
	if err != nil {
		return RecordsPageJSON{}, badFilter(err)
	}
	limit := defaultRecordsPage
	if s := req.QueryStringParameters["limit"]; s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxRecordsPage {
			return RecordsPageJSON{}, &recordsError{http.StatusBadRequest, "bad_limit", fmt.Sprintf("每页条数应为 1-%d", maxRecordsPage)}
		}
		limit = n
	}
	page, err := h.Orders.QueryRecords(ctx, com.ID, f, req.QueryStringParameters["cursor"], limit)
	switch {
	case errors.Is(err, store.ErrBadCursor):
		return RecordsPageJSON{}, &recordsError{http.StatusBadRequest, "bad_cursor", "翻页参数无效，请从第一页重新查询"}
	case errors.Is(err, store.ErrBadFilter):
		return RecordsPageJSON{}, badFilter(err)
	case err != nil:
		h.Log.ErrorContext(ctx, "query records", "err", err)
		return RecordsPageJSON{}, errRecordsInternal
	}
	out := RecordsPageJSON{CommunityID: com.ID, Community: com.Name, Payments: make([]RecordJSON, 0, len(page.Orders)), NextCursor: page.Next}
	for _, o := range page.Orders {
		out.Payments = append(out.Payments, RecordOf(o))
	}
	return out, nil
}

var (
	errExportTooLarge = errors.New(msgExportTooLarge)
	errExportTooSlow  = errors.New(msgExportTooSlow)
)

// CSV answers every matching record as one CSV file, built page by page
// from the records index (one index page in memory besides the CSV itself),
// up to MaxExportBytes; past that, or when the Lambda deadline comes near,
// it answers 413 export_too_large with what to do instead, never a
// truncated file.
func (h *Records) CSV(ctx context.Context, t Tenant, req web.Request) web.Response {
	com, resp, ok := h.community(ctx, t, req)
	if !ok {
		return resp
	}
	f, err := ParseRecordFilter(req.QueryStringParameters)
	if err != nil {
		return badFilterResponse(err)
	}
	company, err := h.Directory.GetCompany(ctx, com.CompanyID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		h.Log.ErrorContext(ctx, "get company", "err", err)
		return web.Error(http.StatusInternalServerError, "internal", "服务暂时不可用，请稍后再试")
	}
	var body bytes.Buffer
	w := NewRecordsCSV(&capped{w: &body, max: MaxExportBytes}, com.Name, csvFields(company.PayerFields, com.PayerFields))
	deadline, hasDeadline := ctx.Deadline()
	n := 0
	err = h.Orders.EachRecord(ctx, com.ID, f, func(o order.Order) error {
		if n++; hasDeadline && n%100 == 0 && deadline.Sub(h.now()) < exportReserve {
			return errExportTooSlow
		}
		return w.Write(o)
	})
	if err == nil {
		err = w.Flush()
	}
	if errors.Is(err, context.DeadlineExceeded) {
		err = errExportTooSlow
	}
	switch {
	case errors.Is(err, errExportTooLarge), errors.Is(err, errExportTooSlow):
		h.Log.WarnContext(ctx, "records export refused", "community_id", com.ID, "records", n, "reason", err.Error())
		return web.Error(http.StatusRequestEntityTooLarge, "export_too_large", err.Error())
	case errors.Is(err, store.ErrBadFilter):
		return badFilterResponse(err)
	case err != nil:
		h.Log.ErrorContext(ctx, "export records", "err", err)
		return web.Error(http.StatusInternalServerError, "internal", "服务暂时不可用，请稍后再试")
	}
	r := file("text/csv; charset=utf-8", body.Bytes(), false)
	name := com.Name + "-收款记录"
	if f.From != "" || f.To != "" {
		name += "-" + string(f.From) + "至" + string(f.To)
	}
	r.Headers["Content-Disposition"] = `attachment; filename="records-` + asciiName(com.ID) + `.csv"; filename*=UTF-8''` + url.PathEscape(name+".csv")
	return r
}

// csvFields are the payer field columns: the community's fields, then the
// company's whose keys the community does not use (records may come from
// either level's configuration, now or before).
func csvFields(company, community domain.PayerFields) domain.PayerFields {
	out := append(domain.PayerFields(nil), community...)
	seen := map[string]bool{}
	for _, f := range community {
		seen[f.Key] = true
	}
	for _, f := range company {
		if !seen[f.Key] {
			out = append(out, f)
		}
	}
	return out
}

func (h *Records) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

// capped counts what is written as it will travel in the Lambda response
// (a JSON string: quotes, backslashes and control characters take 2 bytes,
// <, > and & take 6) and refuses to go past max.
type capped struct {
	w        io.Writer
	max, len int
}

func (c *capped) Write(p []byte) (int, error) {
	n := len(p)
	for _, b := range p {
		switch {
		case b == '"' || b == '\\' || b == '\n' || b == '\r' || b == '\t':
			n++
		case b == '<' || b == '>' || b == '&':
			n += 5
		case b < 0x20:
			n += 5
		}
	}
	if c.len+n > c.max {
		return 0, errExportTooLarge
	}
	c.len += n
	return c.w.Write(p)
}

// RecordsCSV writes collection records as CSV for Excel: UTF-8 with a BOM
// (so Excel reads Chinese), a Chinese header row, CRLF line ends, times in
// Asia/Shanghai with +08:00, amounts in yuan with two decimals, one column
// per payer field the company and community define (fields of other keys,
// e.g. a code's own or since removed, go together into 其他信息), and cells
// that a spreadsheet would run as a formula (starting with = + - @, tab or
// CR) prefixed with a single quote.
type RecordsCSV struct {
	out       io.Writer
	w         *csv.Writer
	community string
	fields    domain.PayerFields
	started   bool
}

// NewRecordsCSV starts a CSV of one community's records.
func NewRecordsCSV(w io.Writer, community string, fields domain.PayerFields) *RecordsCSV {
	cw := csv.NewWriter(w)
	cw.UseCRLF = true
	return &RecordsCSV{out: w, w: cw, community: community, fields: fields}
}

// header writes the BOM and the header row.
func (c *RecordsCSV) header() error {
	c.started = true
	// The BOM goes straight to the output: nothing is buffered in the
	// csv.Writer yet.
	if _, err := io.WriteString(c.out, "\ufeff"); err != nil {
		return err
	}
	cols := []string{"小区", "订单号", "支付时间", "营业日", "支付渠道", "状态", "金额（元）", "退款时间", "交易单号", "付款人标识", "已退款金额（元）", "退款说明"}
	for _, f := range c.fields {
		cols = append(cols, f.Label)
	}
	return c.row(append(cols, "其他信息"))
}

// Write adds one record (writing the header first).
func (c *RecordsCSV) Write(o order.Order) error {
	if !c.started {
		if err := c.header(); err != nil {
			return err
		}
	}
	refunded := ""
	if !o.RefundedAt.IsZero() {
		refunded = calendar.Format(o.RefundedAt)
	}
	row := []string{
		c.community, o.ID, calendar.Format(o.PaidAt), string(calendar.BusinessDay(o.PaidAt)),
		o.Channel.Name(), statusName(o.Status), domain.FormatYuan(o.AmountFen), refunded, o.ProviderTxnID, o.PayerID,
		domain.FormatYuan(refundedFen(o)), refundNote(o),
	}
	known := map[string]bool{}
	for _, f := range c.fields {
		known[f.Key] = true
		row = append(row, o.Fields[f.Key])
	}
	var other []string
	for k, v := range o.Fields {
		if !known[k] {
			other = append(other, k+"="+v)
		}
	}
	sort.Strings(other)
	return c.row(append(row, strings.Join(other, "; ")))
}

// Flush writes the header if no record came, and everything buffered.
func (c *RecordsCSV) Flush() error {
	if !c.started {
		if err := c.header(); err != nil {
			return err
		}
	}
	c.w.Flush()
	return c.w.Error()
}

func (c *RecordsCSV) row(cells []string) error {
	for i, s := range cells {
		cells[i] = defuse(s)
	}
	if err := c.w.Write(cells); err != nil {
		return err
	}
	return c.w.Error()
}

// defuse keeps a spreadsheet from reading a cell as a formula (CSV
// injection): a cell starting with = + - @, a tab or a carriage return gets
// a leading single quote, which Excel shows as text.
func defuse(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// refundedFen is what went back to the payer: the refunds the provider
// confirmed, or all of it for a payment refunded whole (also one refunded at
// the provider before we saw it paid, which has no refunds of ours).
func refundedFen(o order.Order) int64 {
	if o.Status == order.Refunded {
		return o.AmountFen
	}
	return o.RefundedFen
}

// refundNote explains a payment's refunds in the CSV: an automatic one (the
// bills it paid were paid by someone else), or a partial refund.
func refundNote(o order.Order) string {
	switch {
	case o.BillsRefused:
		return "自动退款：账单已由他人缴清"
	case o.Status == order.Paid && o.RefundedFen > 0:
		return "部分退款"
	}
	return ""
}

func statusName(s order.Status) string {
	switch s {
	case order.Paid:
		return "已支付"
	case order.Refunded:
		return "已退款"
	}
	return string(s)
}
