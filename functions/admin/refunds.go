package main

import (
	"context"
	"errors"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/bill"
	"github.com/estatepay/estatepay/shared/domain/calendar"
	"github.com/estatepay/estatepay/shared/domain/order"
	"github.com/estatepay/estatepay/shared/domain/refund"
	"github.com/estatepay/estatepay/shared/payments"
	"github.com/estatepay/estatepay/shared/store"
	"github.com/estatepay/estatepay/shared/web"
	"github.com/estatepay/estatepay/shared/web/console"
)

// A payment and its refunds (X3; admins refund, everyone who reads the
// records sees them):
//
//	GET  /admin/orders/{id}                the payment, its bills, its refunds; for admins the refund form
//	POST /admin/orders/{id}/refunds        form: amount (yuan), reason, reopen (repeated bill id), key, csrf
//	GET  /admin/api/orders/{id}            the payment with its refunds (JSON)
//	POST /admin/api/orders/{id}/refunds    JSON {amount_fen, reason, reopen_bill_ids?}, header Idempotency-Key → 201 {"refund"}
//
// A refund is stored REQUESTED, its amount taken from the payment in the
// same transaction (payments.RequestRefund); the sweeper submits it to the
// provider within a minute: the console holds no merchant keys.
func init() {
	register(
		route{method: "GET", pattern: "/admin/orders/{oid}", action: ActRecordsView, handle: (*Handler).orderPage},
		route{method: "POST", pattern: "/admin/orders/{oid}/refunds", action: ActRefundsManage, handle: (*Handler).refundSubmit},
		route{method: "GET", pattern: "/admin/api/orders/{oid}", action: ActRecordsView, handle: (*Handler).apiOrder},
		route{method: "POST", pattern: "/admin/api/orders/{oid}/refunds", action: ActRefundsManage, handle: (*Handler).apiRefund},
	)
	actionNames["refund.request"] = "申请退款"
	notices["refund"] = "退款已申请，系统将在一分钟内提交支付机构原路退回"
}

// Refunds is what the console asks of the payments application: a payment,
// its refunds, and a new refund (*payments.Service).
type Refunds interface {
	Order(ctx context.Context, id string) (order.Order, error)
	OrderRefunds(ctx context.Context, o order.Order) ([]refund.Refund, error)
	RequestRefund(ctx context.Context, r payments.RefundRequest) (refund.Refund, error)
}

// refundsOf is the console's refunds, or a 501 answer when it has none.
func (h *Handler) refundsOf(c *call) (Refunds, web.Response, bool) {
	if h.Refunds == nil || c.p.CompanyID == "" {
		return nil, h.fail(c, http.StatusNotImplemented, "not_implemented", "该功能即将上线"), false
	}
	return h.Refunds, web.Response{}, true
}

// loadOrder reads the caller's company's order {oid}: another company's, a
// refund's id or anything malformed is the same 404.
func (h *Handler) loadOrder(ctx context.Context, c *call) (Refunds, order.Order, web.Response, bool) {
	r, resp, ok := h.refundsOf(c)
	if !ok {
		return nil, order.Order{}, resp, false
	}
	o, resp, ok := h.orderOf(ctx, c, r)
	return r, o, resp, ok
}

// orderOf reads the order {oid} of the caller's company through r.
func (h *Handler) orderOf(ctx context.Context, c *call, r Refunds) (order.Order, web.Response, bool) {
	id := c.params["oid"]
	if id == "" || len(id) > 64 || refund.IsID(id) || !domain.IsURLSafe(id, 1, 64) {
		return order.Order{}, h.notFound(c), false
	}
	o, err := r.Order(ctx, id)
	if errors.Is(err, payments.ErrUnknownOrder) || (err == nil && (o.CompanyID == "" || o.CompanyID != c.p.CompanyID)) {
		return o, h.notFound(c), false
	}
	if err != nil {
		return o, h.internal(ctx, c, "get order", err), false
	}
	return o, web.Response{}, true
}

// ---------------------------------------------------------------- JSON

// RefundJSON is one refund in the API; times RFC 3339 in Asia/Shanghai.
type RefundJSON struct {
	ID            string   `json:"id"`
	AmountFen     int64    `json:"amount_fen"`
	Status        string   `json:"status"` // REQUESTED, PROCESSING, SUCCEEDED, FAILED
	Reason        string   `json:"reason"`
	By            string   `json:"by"` // staff:<id>, or auto (a notice paid twice)
	CreatedAt     string   `json:"created_at"`
	SucceededAt   string   `json:"succeeded_at,omitempty"`
	FailedAt      string   `json:"failed_at,omitempty"`
	FailReason    string   `json:"fail_reason,omitempty"`
	ReopenBillIDs []string `json:"reopen_bill_ids"`
}

// OrderJSON is a payment with its refunds in the API.
type OrderJSON struct {
	OrderID       string       `json:"order_id"`
	CommunityID   string       `json:"community_id"`
	Community     string       `json:"community"`
	Channel       string       `json:"channel"`
	AmountFen     int64        `json:"amount_fen"`
	Status        string       `json:"status"`
	PaidAt        string       `json:"paid_at,omitempty"`
	ProviderTxnID string       `json:"provider_txn_id"`
	RefundFen     int64        `json:"refund_fen"`     // refunds asked and not failed (requested + succeeded)
	RefundedFen   int64        `json:"refunded_fen"`   // confirmed by the provider
	RefundableFen int64        `json:"refundable_fen"` // what a new refund may still take
	BillsRefused  bool         `json:"bills_refused"`  // paid for bills someone else had paid: refunded automatically
	NoticeID      string       `json:"notice_id,omitempty"`
	HouseID       string       `json:"house_id,omitempty"`
	BillIDs       []string     `json:"bill_ids"`
	Refunds       []RefundJSON `json:"refunds"`
	// Invoices are its e-invoices, oldest first (issue 13, invoicing.go; the
	// payment's own API only).
	Invoices []OrderInvoiceJSON `json:"invoices,omitempty"`
}

func shanghai(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return calendar.Format(t)
}

func refundJSON(r refund.Refund) RefundJSON {
	out := RefundJSON{ID: r.ID, AmountFen: r.AmountFen, Status: string(r.Status), Reason: r.Reason, By: r.By, CreatedAt: shanghai(r.CreatedAt),
		SucceededAt: shanghai(r.SucceededAt), FailedAt: shanghai(r.FailedAt), FailReason: r.FailReason, ReopenBillIDs: r.ReopenBills}
	if out.ReopenBillIDs == nil {
		out.ReopenBillIDs = []string{}
	}
	return out
}

func orderJSON(o order.Order, community string, rfs []refund.Refund) OrderJSON {
	out := OrderJSON{OrderID: o.ID, CommunityID: o.CommunityID, Community: community, Channel: string(o.Channel), AmountFen: o.AmountFen,
		Status: string(o.Status), PaidAt: shanghai(o.PaidAt), ProviderTxnID: o.ProviderTxnID, RefundFen: o.RefundFen, RefundedFen: refundedFen(o),
		RefundableFen: o.Refundable(), BillsRefused: o.BillsRefused, NoticeID: o.NoticeID, HouseID: o.HouseID, BillIDs: o.BillIDs,
		Refunds: make([]RefundJSON, 0, len(rfs))}
	if out.BillIDs == nil {
		out.BillIDs = []string{}
	}
	for _, r := range rfs {
		out.Refunds = append(out.Refunds, refundJSON(r))
	}
	return out
}

// communityName is the name of the order's community ("" when unknown).
func (h *Handler) communityName(ctx context.Context, o order.Order) string {
	cm, err := h.Store.GetCommunity(ctx, o.CommunityID)
	if err != nil || cm.CompanyID != o.CompanyID {
		return ""
	}
	return cm.Name
}

func (h *Handler) apiOrder(ctx context.Context, c *call) web.Response {
	r, o, resp, ok := h.loadOrder(ctx, c)
	if !ok {
		return resp
	}
	rfs, err := r.OrderRefunds(ctx, o)
	if err != nil {
		return h.internal(ctx, c, "order refunds", err)
	}
	out := orderJSON(o, h.communityName(ctx, o), rfs)
	out.Invoices = h.orderInvoicesJSON(ctx, o.ID)
	return web.JSON(http.StatusOK, out)
}

// refundAsk is a refund as the caller asked for it.
type refundAsk struct {
	AmountFen int64
	Reason    string
	Reopen    []string
	Key       string
}

// requestRefund runs the command for the caller and audits a new refund
// (a retried request with the same key answers the same refund, audited
// once).
func (h *Handler) requestRefund(ctx context.Context, c *call, r Refunds, o order.Order, in refundAsk) (refund.Refund, error) {
	if in.AmountFen <= 0 {
		return refund.Refund{}, &payments.InvalidError{Msg: "退款金额必须大于 0"}
	}
	seen := false
	if domain.IsURLSafe(in.Key, 16, 64) {
		if rfs, err := r.OrderRefunds(ctx, o); err == nil {
			id := refund.ID(o.ID, in.Key)
			for _, x := range rfs {
				seen = seen || x.ID == id
			}
		}
	}
	rf, err := r.RequestRefund(ctx, payments.RefundRequest{CompanyID: c.p.CompanyID, OrderID: o.ID, AmountFen: in.AmountFen,
		Reason: in.Reason, By: "staff:" + c.p.StaffID, Key: in.Key, ReopenBills: in.Reopen})
	if err == nil && !seen {
		before := map[string]any{"order_id": o.ID, "amount_fen": o.AmountFen, "refund_fen": o.RefundFen, "refunded_fen": o.RefundedFen,
			"refundable_fen": o.Refundable()}
		h.audit(ctx, c, "refund.request", "order", o.ID, before, refundJSON(rf))
	}
	return rf, err
}

// refundError maps a refused refund to its HTTP status, code and message.
func refundError(err error) (int, string, string) {
	var inv *payments.InvalidError
	switch {
	case errors.As(err, &inv):
		return http.StatusBadRequest, "invalid", inv.Msg
	case errors.Is(err, payments.ErrRefundExceeds):
		msg := "退款金额超过可退金额"
		if _, zh, ok := strings.Cut(err.Error(), ": "); ok && strings.Contains(zh, "可退金额") {
			msg = zh // 退款金额 X 元超过可退金额 Y 元
		}
		return http.StatusConflict, "refund_exceeds", msg
	case errors.Is(err, payments.ErrNotRefundable):
		return http.StatusConflict, "not_refundable", "这笔付款不能退款（未支付、已全额退款，或已退款 20 次）"
	case errors.Is(err, payments.ErrRefundConflict):
		return http.StatusConflict, "idempotency_conflict", "该请求标识已用于另一笔退款，请刷新页面后重新填写"
	case errors.Is(err, payments.ErrRefundLinked):
		msg := "该收款已在收银台关联收款单，请先冲正该收款单再退款"
		if _, zh, ok := strings.Cut(err.Error(), ": "); ok {
			msg = zh
		}
		return http.StatusConflict, "payment_linked", msg
	case errors.Is(err, payments.ErrUnknownOrder):
		return http.StatusNotFound, "not_found", "您要找的内容不存在"
	case errors.Is(err, store.ErrUnitConflict):
		return http.StatusConflict, "busy", "这笔付款正在变动（支付机构的通知或另一笔退款），请稍后重试"
	}
	return http.StatusInternalServerError, "internal", "系统繁忙，请稍后再试"
}

func (h *Handler) apiRefund(ctx context.Context, c *call) web.Response {
	r, o, resp, ok := h.loadOrder(ctx, c)
	if !ok {
		return resp
	}
	var in struct {
		AmountFen int64    `json:"amount_fen"`
		Reason    string   `json:"reason"`
		Reopen    []string `json:"reopen_bill_ids"`
	}
	if !decodeJSON(c, &in) {
		return web.Error(http.StatusBadRequest, "invalid", "请求须为 JSON：{amount_fen, reason, reopen_bill_ids}")
	}
	key := web.Header(c.req, "Idempotency-Key")
	if !domain.IsURLSafe(key, 16, 64) {
		return web.Error(http.StatusBadRequest, "invalid", "请求头 Idempotency-Key 应为 16-64 位字母、数字、_ 或 -")
	}
	rf, err := h.requestRefund(ctx, c, r, o, refundAsk{AmountFen: in.AmountFen, Reason: in.Reason, Reopen: in.Reopen, Key: key})
	if err != nil {
		status, code, msg := refundError(err)
		if status == http.StatusInternalServerError {
			return h.internal(ctx, c, "request refund", err)
		}
		return web.Error(status, code, msg)
	}
	return web.JSON(http.StatusCreated, map[string]any{"refund": refundJSON(rf)})
}

// ---------------------------------------------------------------- pages

// refundStatusName is a refund's state as people read it.
func refundStatusName(s refund.Status) (string, string) {
	switch s {
	case refund.Requested:
		return "申请中", "warn"
	case refund.Processing:
		return "处理中", "warn"
	case refund.Succeeded:
		return "已退款", "ok"
	case refund.Failed:
		return "退款失败", "bad"
	}
	return string(s), ""
}

type orderBillRow struct {
	ID, FeeItem, Period, Amount, State, PaidHow string
	Reopenable, Checked                         bool
}

type refundRow struct {
	ID, At, Amount, Status, StatusClass, Reason, By, Done, FailReason string
	Auto                                                              bool
	Reopen                                                            []string
}

type orderPageBody struct {
	ID, CommunityID, Community, Channel, Amount, Status, StatusClass string
	PaidAt, TxnID, Payer                                             string
	Refunded, Pending, Refundable                                    string
	PartlyRefunded, BillsRefused                                     bool
	NoticeID, House                                                  string
	Bills                                                            []orderBillRow
	Refunds                                                          []refundRow
	CanRefund                                                        bool // an admin, and something left to refund
	MayRefund                                                        bool // the caller's role may refund
	Key, FormAmount, FormReason                                      string
	Invoices                                                         []orderInvoiceRow // e-invoices (issue 13, invoicing.go)
}

func (h *Handler) orderPage(ctx context.Context, c *call) web.Response {
	return h.renderOrder(ctx, c, http.StatusOK, "", nil)
}

// renderOrder renders the payment's page; after a refused refund, errMsg
// says why and the form keeps what was entered (with a new key).
func (h *Handler) renderOrder(ctx context.Context, c *call, status int, errMsg string, chosen map[string]bool) web.Response {
	r, o, resp, ok := h.loadOrder(ctx, c)
	if !ok {
		return resp
	}
	rfs, err := r.OrderRefunds(ctx, o)
	if err != nil {
		return h.internal(ctx, c, "order refunds", err)
	}
	cm, err := h.Store.GetCommunity(ctx, o.CommunityID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return h.internal(ctx, c, "get community", err)
	}
	b := orderPageBody{ID: o.ID, CommunityID: o.CommunityID, Channel: o.Channel.Name(),
		Amount: domain.FormatYuan(o.AmountFen), PaidAt: console.When(o.PaidAt), TxnID: o.ProviderTxnID,
		Refunded: domain.FormatYuan(refundedFen(o)), Refundable: domain.FormatYuan(o.Refundable()),
		BillsRefused: o.BillsRefused, NoticeID: o.NoticeID, MayRefund: can(c.p.Role, ActRefundsManage), Key: randomToken(18)}
	if p := o.RefundFen - o.RefundedFen; p > 0 {
		b.Pending = domain.FormatYuan(p)
	}
	b.Status, b.StatusClass = orderStatusName(o)
	b.PartlyRefunded = o.Status == order.Paid && o.RefundedFen > 0
	b.CanRefund = b.MayRefund && o.Refundable() > 0
	if err == nil && cm.CompanyID == o.CompanyID {
		b.Community = cm.Name
		labels := map[string]string{}
		if co, err := h.Store.GetCompany(ctx, cm.CompanyID); err == nil {
			for _, f := range csvFields(co.PayerFields, cm.PayerFields) {
				labels[f.Key] = f.Label
			}
		}
		b.Payer = payerText(o.Fields, labels)
	}
	if c.form != nil {
		b.FormAmount, b.FormReason = c.form.Get("amount"), c.form.Get("reason")
	}
	if o.HouseID != "" {
		if hs, err := h.Store.HouseRepo().GetHouse(ctx, o.CompanyID, o.HouseID); err == nil {
			b.House = hs.Label()
		}
	}
	if len(o.BillIDs) > 0 {
		bills, err := h.Store.LedgerRepo().ReadBills(ctx, o.BillIDs)
		if err != nil {
			return h.internal(ctx, c, "order bills", err)
		}
		for _, bl := range bills {
			if bl.CompanyID != o.CompanyID {
				continue
			}
			row := orderBillRow{ID: bl.ID, FeeItem: bl.FeeItem, Period: bl.Period, Amount: domain.FormatYuan(bl.AmountFen), State: billStatusName(bl.Status)}
			switch {
			case bl.Status == bill.Paid && bl.PaidBy.OrderID == o.ID:
				row.PaidHow, row.Reopenable = "由这笔付款缴清", true
				row.Checked = chosen[bl.ID]
			case bl.Status == bill.Paid:
				row.PaidHow = "由其他付款缴清"
			}
			b.Bills = append(b.Bills, row)
		}
	}
	var names map[string]string
	for i := len(rfs) - 1; i >= 0; i-- { // newest first
		rf := rfs[i]
		row := refundRow{ID: rf.ID, At: console.When(rf.CreatedAt), Amount: domain.FormatYuan(rf.AmountFen), Reason: rf.Reason,
			FailReason: rf.FailReason, Auto: rf.By == "auto", Reopen: rf.ReopenBills}
		row.Status, row.StatusClass = refundStatusName(rf.Status)
		switch {
		case row.Auto:
			row.By, row.Reason = "系统", "自动退款：账单已由他人缴清"
		case strings.HasPrefix(rf.By, "staff:"):
			if names == nil {
				names = h.staffNames(ctx, c)
			}
			row.By = names[strings.TrimPrefix(rf.By, "staff:")]
			if row.By == "" {
				row.By = rf.By
			}
		default:
			row.By = rf.By
		}
		switch rf.Status {
		case refund.Succeeded:
			row.Done = console.When(rf.SucceededAt)
		case refund.Failed:
			row.Done = console.When(rf.FailedAt)
		}
		b.Refunds = append(b.Refunds, row)
	}
	b.Invoices = h.orderInvoices(ctx, o.ID)
	v := h.page(c, "付款详情 "+o.ID, b)
	v.Error = errMsg
	return h.render(status, "order.html", v)
}

// payerText is the payer fields (M5) as people read them: 房号：3-201；…
func payerText(fields, labels map[string]string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(fields)) {
		l := labels[k]
		if l == "" {
			l = k
		}
		parts = append(parts, l+"："+fields[k])
	}
	return strings.Join(parts, "；")
}

// staffNames maps the company's staff ids to names (for who asked a refund).
func (h *Handler) staffNames(ctx context.Context, c *call) map[string]string {
	out := map[string]string{}
	list, err := h.Accounts.ListStaff(ctx, c.p)
	if err != nil {
		h.Log.WarnContext(ctx, "list staff", "err", err)
		return out
	}
	for _, s := range list {
		out[s.ID] = s.Name
	}
	return out
}

// orderStatusName is a payment's state as people read it, with the tag's class.
func orderStatusName(o order.Order) (string, string) {
	switch {
	case o.Status == order.Refunded && o.BillsRefused:
		return "已退款（自动）", "bad"
	case o.Status == order.Refunded:
		return "已退款", "bad"
	case o.Status == order.Paid && o.RefundedFen > 0:
		return "部分退款", "warn"
	case o.Status == order.Paid && o.BillsRefused:
		return "自动退款中", "warn"
	case o.Status == order.Paid:
		return "已支付", "ok"
	case o.Status == order.Closed:
		return "已关闭", ""
	}
	return "未支付", ""
}

func (h *Handler) refundSubmit(ctx context.Context, c *call) web.Response {
	r, o, resp, ok := h.loadOrder(ctx, c)
	if !ok {
		return resp
	}
	chosen := map[string]bool{}
	for _, id := range c.form["reopen"] {
		chosen[id] = true
	}
	fen, err := domain.ParseYuan(strings.TrimSpace(c.form.Get("amount")))
	if err != nil {
		return h.renderOrder(ctx, c, http.StatusBadRequest, "退款金额格式不正确，例如 12.50", chosen)
	}
	_, err = h.requestRefund(ctx, c, r, o, refundAsk{AmountFen: fen, Reason: c.form.Get("reason"), Reopen: c.form["reopen"], Key: c.form.Get("key")})
	if err != nil {
		status, _, msg := refundError(err)
		switch status {
		case http.StatusNotFound:
			return h.notFound(c)
		case http.StatusInternalServerError:
			return h.internal(ctx, c, "request refund", err)
		}
		return h.renderOrder(ctx, c, status, msg, chosen)
	}
	return c.done("/admin/orders/"+url.PathEscape(o.ID), "refund")
}
