package main

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/estatepay/estatepay/shared/domain/invoice"
	"github.com/estatepay/estatepay/shared/domain/staff"
	"github.com/estatepay/estatepay/shared/store"
	"github.com/estatepay/estatepay/shared/web"
	"github.com/estatepay/estatepay/shared/web/console"
)

// 开票设置 (issue 13, e-invoices): a company's invoicing settings, data an
// admin edits, never code — whether residents may ask for invoices on their
// receipts (and for free amounts), the seller, and per fee item the goods or
// service name, 税收分类编码 and rate.
//
//	GET  /admin/invoicing   the form (admins; the operator with ?company=)
//	POST /admin/invoicing   form: enabled, free, seller_name, seller_tax_no,
//	                        default_name/_code/_rate, item_<n>_fee/_name/_code/_rate,
//	                        version, csrf → 303 ?done=saved
//
// The payment's page lists its invoices (orderInvoices).

// ActInvoicingManage is 开票设置 (admins: the same entry of the permission
// table as refunds, money matters of the company).
const ActInvoicingManage Action = "invoicing.manage"

func init() {
	staffActions[ActInvoicingManage] = staff.RefundsManage
	register(
		route{method: "GET", pattern: "/admin/invoicing", action: ActInvoicingManage, handle: (*Handler).invoicingPage},
		route{method: "POST", pattern: "/admin/invoicing", action: ActInvoicingManage, handle: (*Handler).saveInvoicing},
	)
}

// invoiceRow is one fee item's line setting on the form.
type invoiceRow struct {
	N                   int
	FeeItem, Name, Code string
	Rate                invoice.Rate
}

type invoicingBody struct {
	S       invoice.Settings
	Default invoiceRow
	Rows    []invoiceRow
	Rates   []invoice.Rate
}

func (h *Handler) invoicingBody(ctx context.Context, s invoice.Settings) invoicingBody {
	b := invoicingBody{S: s, Rates: invoice.Rates, Default: invoiceRow{Name: s.Default.Name, Code: s.Default.TaxCode, Rate: s.Default.Rate}}
	if b.Default.Name == "" {
		b.Default = invoiceRow{Name: "物业管理服务", Code: "3040502020200000000", Rate: 600}
	}
	seen := map[string]bool{}
	for _, it := range s.Items {
		b.Rows = append(b.Rows, invoiceRow{N: len(b.Rows), FeeItem: it.FeeItem, Name: it.Name, Code: it.TaxCode, Rate: it.Rate})
		seen[it.FeeItem] = true
	}
	// The company's fee items not yet set, offered empty (the default applies to them).
	if cms, err := h.Store.ListCommunities(ctx, s.CompanyID); err == nil {
		for _, cm := range cms {
			items, err := h.Store.HouseRepo().FeeItems(ctx, s.CompanyID, cm.ID)
			if err != nil {
				continue
			}
			for _, f := range items {
				if !seen[f.Name] {
					seen[f.Name] = true
					b.Rows = append(b.Rows, invoiceRow{N: len(b.Rows), FeeItem: f.Name, Rate: b.Default.Rate})
				}
			}
		}
	}
	b.Rows = append(b.Rows, invoiceRow{N: len(b.Rows), Rate: b.Default.Rate}) // one blank row to add a fee item
	return b
}

func (h *Handler) invoicingPage(ctx context.Context, c *call) web.Response {
	if h.Invoices == nil {
		return h.fail(c, http.StatusNotImplemented, "not_implemented", "该功能即将上线")
	}
	co := c.scopeCompany()
	if co == "" {
		return h.message(c, http.StatusBadRequest, "开票设置", "请先选择物业公司", "/admin/companies", "物业公司")
	}
	s, err := h.Invoices.InvoiceSettings(ctx, co)
	if err != nil {
		return h.internal(ctx, c, "invoice settings", err)
	}
	return h.render(http.StatusOK, "invoicing.html", h.page(c, "开票设置", h.invoicingBody(ctx, s)))
}

func (h *Handler) saveInvoicing(ctx context.Context, c *call) web.Response {
	if h.Invoices == nil {
		return h.fail(c, http.StatusNotImplemented, "not_implemented", "该功能即将上线")
	}
	co := c.scopeCompany()
	if co == "" {
		return h.message(c, http.StatusBadRequest, "开票设置", "请先选择物业公司", "/admin/companies", "物业公司")
	}
	f := c.form
	version, _ := strconv.ParseInt(f.Get("version"), 10, 64)
	rate := func(k string) invoice.Rate {
		n, err := strconv.ParseInt(f.Get(k), 10, 64)
		if err != nil {
			return -1
		}
		return invoice.Rate(n)
	}
	s := invoice.Settings{CompanyID: co, Enabled: f.Get("enabled") == "1", AllowFreeAmount: f.Get("free") == "1",
		SellerName: f.Get("seller_name"), SellerTaxNo: f.Get("seller_tax_no"), Version: version,
		Default: invoice.ItemSetting{Name: f.Get("default_name"), TaxCode: f.Get("default_code"), Rate: rate("default_rate")}}
	for n := 0; n < 100; n++ {
		p := "item_" + strconv.Itoa(n) + "_"
		if !f.Has(p + "fee") {
			break
		}
		fee, name, code := strings.TrimSpace(f.Get(p+"fee")), strings.TrimSpace(f.Get(p+"name")), strings.TrimSpace(f.Get(p+"code"))
		if fee == "" || name == "" && code == "" {
			continue // a blank row, or a fee item left to the default
		}
		s.Items = append(s.Items, invoice.ItemSetting{FeeItem: fee, Name: name, TaxCode: code, Rate: rate(p + "rate")})
	}
	before, err := h.Invoices.InvoiceSettings(ctx, co)
	if err != nil {
		return h.internal(ctx, c, "invoice settings", err)
	}
	checked, err := s.Check()
	if err == nil {
		var saved invoice.Settings
		saved, err = h.Invoices.PutInvoiceSettings(ctx, checked)
		if err == nil {
			h.audit(ctx, c, "invoicing.save", "company", co, before, saved)
			r := c.done("/admin/invoicing", "saved")
			r.StatusCode = http.StatusSeeOther
			return r
		}
	}
	msg := "保存失败，请重试"
	switch {
	case errors.Is(err, invoice.ErrInvalid):
		msg = strings.TrimPrefix(err.Error(), invoice.ErrInvalid.Error()+": ")
	case errors.Is(err, store.ErrSettingsChanged):
		msg = "设置已被他人修改，请刷新页面后重新填写"
	default:
		h.Log.ErrorContext(ctx, "save invoice settings", "err", err)
	}
	v := h.page(c, "开票设置", h.invoicingBody(ctx, checked))
	v.Error = msg
	return h.render(http.StatusBadRequest, "invoicing.html", v)
}

// invoicesOf reads a payment's invoices, oldest first; nil when invoicing is
// not wired or they cannot be read (logged: the payment still shows).
func (h *Handler) invoicesOf(ctx context.Context, orderID string) []invoice.Invoice {
	if h.Invoices == nil {
		return nil
	}
	list, err := h.Invoices.OfOrder(ctx, orderID)
	if err != nil {
		h.Log.WarnContext(ctx, "order invoices", "order_id", orderID, "err", err)
		return nil
	}
	return list
}

// orderInvoiceRow is one invoice on the payment's page.
type orderInvoiceRow struct {
	ID, Status, StatusClass, Title, TaxNo, Email, Total, Tax, Number, PDFURL, RedNumber, RedPDFURL, Created, Issued, Note string
}

// orderInvoices are the invoices of a payment, oldest first ("" on error: the page still shows the payment).
func (h *Handler) orderInvoices(ctx context.Context, orderID string) []orderInvoiceRow {
	list := h.invoicesOf(ctx, orderID)
	var rows []orderInvoiceRow
	for _, inv := range list {
		r := orderInvoiceRow{ID: inv.ID, Status: inv.Status.Label(), Title: inv.Title.Name, TaxNo: inv.Title.TaxNo, Email: inv.Email,
			Total: yuan(inv.TotalFen), Tax: yuan(inv.TaxFen), Number: inv.Number, PDFURL: inv.PDFURL, RedNumber: inv.RedNumber,
			RedPDFURL: inv.RedPDFURL, Created: console.When(inv.CreatedAt), Issued: console.When(inv.IssuedAt)}
		switch inv.Status {
		case invoice.Issued:
			r.StatusClass = "ok"
		case invoice.Failed:
			r.StatusClass, r.Note = "bad", inv.FailReason
		case invoice.Reversed, invoice.RedRequested, invoice.Cancelled:
			r.StatusClass = "warn"
		}
		if inv.Replaces != "" {
			r.Note = strings.TrimSpace(r.Note + " 部分退款后重开，替代 " + inv.Replaces)
		}
		rows = append(rows, r)
	}
	return rows
}

// OrderInvoiceJSON is one e-invoice of a payment in GET /admin/api/orders/{id}.
type OrderInvoiceJSON struct {
	ID        string `json:"invoice_id"`
	Status    string `json:"status"` // REQUESTED|SUBMITTED|ISSUED|RED_REQUESTED|REVERSED|FAILED|CANCELLED
	TitleKind string `json:"title_kind"`
	Title     string `json:"title"`
	TaxNo     string `json:"tax_no,omitempty"`
	Email     string `json:"email"`
	TotalFen  int64  `json:"total_fen"`
	ExclFen   int64  `json:"excl_fen"`
	TaxFen    int64  `json:"tax_fen"`
	Number    string `json:"number,omitempty"`
	PDFURL    string `json:"pdf_url,omitempty"`
	RedNumber string `json:"red_number,omitempty"`
	RedPDFURL string `json:"red_pdf_url,omitempty"`
	Replaces  string `json:"replaces,omitempty"`
	CreatedAt string `json:"created_at"`
	IssuedAt  string `json:"issued_at,omitempty"`
}

// orderInvoicesJSON are the payment's invoices for its API (nil on error).
func (h *Handler) orderInvoicesJSON(ctx context.Context, orderID string) []OrderInvoiceJSON {
	list := h.invoicesOf(ctx, orderID)
	if list == nil {
		return nil
	}
	out := make([]OrderInvoiceJSON, 0, len(list))
	for _, inv := range list {
		out = append(out, OrderInvoiceJSON{ID: inv.ID, Status: string(inv.Status), TitleKind: string(inv.Title.Kind), Title: inv.Title.Name,
			TaxNo: inv.Title.TaxNo, Email: inv.Email, TotalFen: inv.TotalFen, ExclFen: inv.ExclFen, TaxFen: inv.TaxFen, Number: inv.Number,
			PDFURL: inv.PDFURL, RedNumber: inv.RedNumber, RedPDFURL: inv.RedPDFURL, Replaces: inv.Replaces,
			CreatedAt: shanghai(inv.CreatedAt), IssuedAt: shanghai(inv.IssuedAt)})
	}
	return out
}
