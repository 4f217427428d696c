package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/invoice"
	"github.com/estatepay/estatepay/shared/domain/order"
	"github.com/estatepay/estatepay/shared/invoicing"
	"github.com/estatepay/estatepay/shared/payments"
	"github.com/estatepay/estatepay/shared/store"
	"github.com/estatepay/estatepay/shared/web"
)

// E-invoices on the receipt (issue 13): GET …/orders/{id}/invoice is the
// 申请开票 form, POST the request — a form for people (303 back to the
// receipt, or the form again with the error), JSON for programs
// (Content-Type application/json: {"kind","name","tax_no","email"} →
// 201 created / 200 existing, the invoice as JSON).
//
// Who may ask: whoever holds the receipt's link (the code token or notice
// id, and the order id) — the receipt's own authorisation — and, for a
// WeChat payment, only the payer: the signed payer cookie's openid must be
// the order's payer. A form carries a token bound to the order and that
// payer (HMAC with the payer-cookie key): another site cannot post it.

// invoiceTarget is the paid order a request is about and what its receipt shows.
type invoiceTarget struct {
	col     store.Collection
	o       order.Order
	parts   []invoice.Part
	receipt string // the receipt's path
}

// Messages.
const (
	msgInvoicePayerOnly = "请在付款时使用的微信中打开支付结果页申请开票。"
	msgInvoiceOff       = "该笔付款暂不支持在线申请开票，请联系物业管理处。"
	msgInvoiceRefunded  = "该笔付款已退款，不能申请开票。"
	msgInvoiceStale     = "页面已过期，请返回支付结果页重新申请。"
)

func (h *Handler) invoiceTarget(ctx context.Context, req web.Request) (invoiceTarget, web.Response, bool, error) {
	var t invoiceTarget
	if h.Invoicing == nil {
		return t, web.NotFound(req), false, nil
	}
	if tok := req.PathParameters["token"]; tok != "" {
		col, resp, ok, err := h.collection(ctx, tok)
		if !ok || err != nil {
			return t, resp, false, err
		}
		id := req.PathParameters["id"]
		notFound := web.Render(http.StatusNotFound, "message.html", web.MessagePage{Title: col.Community.Name, Community: col.Community.Name, Message: msgOrderNotFound})
		if !payments.IsOrderID(id) {
			return t, notFound, false, nil
		}
		o, err := h.Orders.Get(ctx, id)
		if errors.Is(err, order.ErrNotFound) || (err == nil && o.CodeToken != tok) {
			return t, notFound, false, nil
		}
		if err != nil {
			return t, web.Response{}, false, err
		}
		t = invoiceTarget{col: col, o: o, parts: []invoice.Part{{Fen: o.AmountFen}}, receipt: "/c/" + url.PathEscape(tok) + "/orders/" + url.PathEscape(id)}
	} else {
		view, resp, ok, err := h.loadNotice(ctx, req)
		if !ok || err != nil {
			return t, resp, false, err
		}
		col := view.Collection
		oid := req.PathParameters["oid"]
		notFound := web.Render(http.StatusNotFound, "message.html", web.MessagePage{Title: col.Community.Name, Community: col.Community.Name, Message: msgOrderNotFound})
		if !payments.IsOrderID(oid) {
			return t, notFound, false, nil
		}
		o, err := h.Orders.Get(ctx, oid)
		if errors.Is(err, order.ErrNotFound) || (err == nil && o.NoticeID != view.Notice.ID) {
			return t, notFound, false, nil
		}
		if err != nil {
			return t, web.Response{}, false, err
		}
		t = invoiceTarget{col: col, o: o, receipt: "/n/" + url.PathEscape(view.Notice.ID) + "/orders/" + url.PathEscape(oid)}
		paid := map[string]bool{}
		for _, b := range o.BillIDs {
			paid[b] = true
		}
		for _, it := range view.Summary.Items {
			if paid[it.Bill.ID] {
				t.parts = append(t.parts, invoice.Part{FeeItem: it.Bill.FeeItem, Fen: it.Bill.AmountFen})
			}
		}
	}
	return t, web.Response{}, true, nil
}

// payerOf is the openid a WeChat order's requests must come from ("" none).
func payerOf(o order.Order) string {
	if o.Channel == domain.WeChat {
		return o.PayerID
	}
	return ""
}

// allowed reports whether req may ask for o's invoice: a WeChat payment's
// payer only (the signed payer cookie).
func (h *Handler) allowed(req web.Request, o order.Order) bool {
	want := payerOf(o)
	if want == "" {
		return true
	}
	p, err := h.Payers.Read(req, h.now())
	return err == nil && p.OpenID == want
}

// invoiceCSRF is the form's token: HMAC(payer-cookie key, order, payer).
func (h *Handler) invoiceCSRF(o order.Order) string {
	m := hmac.New(sha256.New, h.Payers.Key)
	m.Write([]byte("invoice\x00" + o.ID + "\x00" + payerOf(o)))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (h *Handler) invoiceMessage(t invoiceTarget, status int, msg string) web.Response {
	name := t.col.Community.Name
	return web.Render(status, "message.html", web.MessagePage{Title: "申请开票 - " + name, Community: name, Message: msg})
}

// invoiceForm is GET …/invoice: the form, or the receipt when an invoice exists.
func (h *Handler) invoiceForm(ctx context.Context, req web.Request) (web.Response, error) {
	t, resp, ok, err := h.invoiceTarget(ctx, req)
	if !ok || err != nil {
		return resp, err
	}
	if !h.allowed(req, t.o) {
		return h.invoiceMessage(t, http.StatusForbidden, msgInvoicePayerOnly), nil
	}
	if list, err := h.Invoicing.Invoices.OfOrder(ctx, t.o.ID); err != nil {
		return web.Response{}, err
	} else if len(list) > 0 {
		return web.Redirect(t.receipt), nil
	}
	offer, err := h.Invoicing.Offer(ctx, t.o)
	if err != nil {
		return web.Response{}, err
	}
	if !offer {
		return h.invoiceMessage(t, http.StatusConflict, msgInvoiceOff), nil
	}
	return web.Render(http.StatusOK, "invoice.html", h.invoicePage(t, "", "", "", "", "")), nil
}

func (h *Handler) invoicePage(t invoiceTarget, kind, name, taxNo, email, errMsg string) web.InvoicePage {
	c := t.col.Community.Name
	return web.InvoicePage{Title: "申请开票 - " + c, Community: c, Company: t.col.Company.Name, Back: t.receipt, Action: t.receipt + "/invoice",
		Amount: domain.FormatYuan(t.o.AmountFen), CSRF: h.invoiceCSRF(t.o), Kind: kind, Name: name, TaxNo: taxNo, Email: email, Error: errMsg}
}

// InvoiceJSON is the JSON view of an invoice (the API's answer).
type InvoiceJSON struct {
	ID        string `json:"invoice_id"`
	OrderID   string `json:"order_id"`
	Status    string `json:"status"`
	TitleKind string `json:"title_kind"`
	Title     string `json:"title"`
	TaxNo     string `json:"tax_no,omitempty"`
	TotalFen  int64  `json:"total_fen"`
	ExclFen   int64  `json:"excl_fen"`
	TaxFen    int64  `json:"tax_fen"`
	Number    string `json:"number,omitempty"`
	PDFURL    string `json:"pdf_url,omitempty"`
}

func invoiceJSON(inv invoice.Invoice) InvoiceJSON {
	return InvoiceJSON{ID: inv.ID, OrderID: inv.OrderID, Status: string(inv.Status), TitleKind: string(inv.Title.Kind), Title: inv.Title.Name,
		TaxNo: inv.Title.TaxNo, TotalFen: inv.TotalFen, ExclFen: inv.ExclFen, TaxFen: inv.TaxFen, Number: inv.Number, PDFURL: inv.PDFURL}
}

// invoicePost is POST …/invoice.
func (h *Handler) invoicePost(ctx context.Context, req web.Request) (web.Response, error) {
	isJSON := strings.HasPrefix(strings.ToLower(web.Header(req, "Content-Type")), "application/json")
	t, resp, ok, err := h.invoiceTarget(ctx, req)
	if !ok || err != nil {
		if isJSON && err == nil {
			return web.Error(http.StatusNotFound, "not_found", msgOrderNotFound), nil
		}
		return resp, err
	}
	fail := func(status int, code, msg string) web.Response {
		if isJSON {
			return web.Error(status, code, msg)
		}
		return h.invoiceMessage(t, status, msg)
	}
	if !h.allowed(req, t.o) {
		return fail(http.StatusForbidden, "payer_only", msgInvoicePayerOnly), nil
	}
	body, err := web.Body(req)
	if err != nil {
		return fail(http.StatusRequestEntityTooLarge, "too_large", "请求过大"), nil
	}
	var kind, name, taxNo, email string
	if isJSON {
		var in struct {
			Kind  string `json:"kind"`
			Name  string `json:"name"`
			TaxNo string `json:"tax_no"`
			Email string `json:"email"`
		}
		if err := json.Unmarshal(body, &in); err != nil {
			return fail(http.StatusBadRequest, "bad_json", "请求格式错误"), nil
		}
		kind, name, taxNo, email = in.Kind, in.Name, in.TaxNo, in.Email
	} else {
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return fail(http.StatusBadRequest, "bad_form", "请求格式错误"), nil
		}
		if !hmac.Equal([]byte(form.Get("csrf")), []byte(h.invoiceCSRF(t.o))) {
			return fail(http.StatusForbidden, "csrf", msgInvoiceStale), nil
		}
		kind, name, taxNo, email = form.Get("kind"), form.Get("name"), form.Get("taxno"), form.Get("email")
	}
	// Request answers an order's existing invoice first, then checks what
	// Offer does (paid, not refunded, invoicing on for this kind of payment).
	inv, created, err := h.Invoicing.Request(ctx, t.o, t.parts, invoice.Title{Kind: invoice.TitleKind(kind), Name: name, TaxNo: taxNo}, email)
	switch {
	case errors.Is(err, invoice.ErrInvalid):
		msg := strings.TrimPrefix(err.Error(), invoice.ErrInvalid.Error()+": ")
		if isJSON {
			return web.Error(http.StatusBadRequest, "invalid", msg), nil
		}
		return web.Render(http.StatusBadRequest, "invoice.html", h.invoicePage(t, kind, name, taxNo, email, msg)), nil
	case errors.Is(err, invoice.ErrDisabled), errors.Is(err, invoicing.ErrNotPaid):
		return fail(http.StatusConflict, "not_offered", msgInvoiceOff), nil
	case errors.Is(err, invoicing.ErrRefunded):
		return fail(http.StatusConflict, "refunded", msgInvoiceRefunded), nil
	case err != nil:
		return web.Response{}, err
	}
	if isJSON {
		status := http.StatusOK
		if created {
			status = http.StatusCreated
		}
		return web.JSON(status, invoiceJSON(inv)), nil
	}
	return seeOther(t.receipt), nil
}

func seeOther(location string) web.Response {
	r := web.Redirect(location)
	r.StatusCode = http.StatusSeeOther
	return r
}

var invoiceStates = map[invoice.Status]string{invoice.Requested: "pending", invoice.Submitted: "pending", invoice.Issued: "issued",
	invoice.RedRequested: "reversing", invoice.Reversed: "reversed", invoice.Failed: "failed", invoice.Cancelled: "cancelled"}

// invoiceBlock adds the order's invoices to its receipt, or the 申请开票
// link when the company offers one and the payer may ask.
func (h *Handler) invoiceBlock(ctx context.Context, req web.Request, p *web.ResultPage, o order.Order, receipt string) {
	if h.Invoicing == nil || o.Status == order.Created || o.Status == order.Pending || o.Status == order.Closed {
		return
	}
	list, err := h.Invoicing.Invoices.OfOrder(ctx, o.ID)
	if err != nil {
		h.Log.WarnContext(ctx, "receipt: invoices not read", "order_id", o.ID, "err", err)
		return
	}
	mine := h.allowed(req, o)
	for _, inv := range list {
		if !mine {
			// The title, the number and the PDF (the buyer's tax number) are
			// the payer's: anyone else holding the receipt sees the state only.
			p.Invoices = append(p.Invoices, web.ReceiptInvoice{State: invoiceStates[inv.Status], StatusText: inv.Status.Label(), Title: "—",
				Note: "请在付款时使用的微信中打开本页查看发票"})
			continue
		}
		ri := web.ReceiptInvoice{State: invoiceStates[inv.Status], StatusText: inv.Status.Label(), Title: inv.Title.Name, Number: inv.Number, RedPDFURL: inv.RedPDFURL}
		if inv.Status == invoice.Issued {
			ri.PDFURL = inv.PDFURL
		}
		switch {
		case inv.Status == invoice.Requested || inv.Status == invoice.Submitted:
			ri.Note = "发票开具后将发送至 " + maskEmail(inv.Email)
		case inv.Status == invoice.Failed:
			ri.Note = "开票未成功，请联系物业管理处"
		case inv.Status == invoice.Reversed && inv.RedKeepFen > 0:
			ri.Note = "因部分退款已红冲，将按实付金额 ¥" + domain.FormatYuan(inv.RedKeepFen) + " 重新开具"
		case inv.Status == invoice.Reversed || inv.Status == invoice.RedRequested:
			ri.Note = "因退款，该发票已作红冲处理"
		}
		p.Invoices = append(p.Invoices, ri)
	}
	if len(list) > 0 || !mine {
		return
	}
	if offer, err := h.Invoicing.Offer(ctx, o); err == nil && offer {
		p.InvoiceLink = receipt + "/invoice"
	}
}

// maskEmail shows enough of an address to recognise it: a***@example.com.
func maskEmail(s string) string {
	at := strings.LastIndexByte(s, '@')
	if at <= 0 {
		return "您的邮箱"
	}
	return s[:1] + "***" + s[at:]
}
