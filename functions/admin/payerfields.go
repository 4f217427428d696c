package main

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/store"
	"github.com/estatepay/estatepay/shared/web"
)

// Payer fields (M5) are edited as a fixed table of MaxPayerFields rows (no
// script needed); empty rows are dropped.

type fieldsBody struct {
	Level, Name, Inherited string
	Action, Back           string
	Rows                   []domain.PayerField
}

func fieldRows(fs domain.PayerFields) []domain.PayerField {
	rows := append([]domain.PayerField{}, fs...)
	for len(rows) < domain.MaxPayerFields {
		rows = append(rows, domain.PayerField{Type: domain.FieldText})
	}
	return rows
}

// parseFields reads the table; a row counts when it has a key or a label.
func parseFields(c *call) (domain.PayerFields, string) {
	var fs domain.PayerFields
	seen := map[string]bool{}
	for i := range domain.MaxPayerFields {
		n := strconv.Itoa(i)
		key, label := strings.TrimSpace(c.form.Get("key"+n)), strings.TrimSpace(c.form.Get("label"+n))
		if key == "" && label == "" {
			continue
		}
		f := domain.PayerField{Key: key, Label: label, Type: domain.FieldType(c.form.Get("type" + n)), Required: c.form.Get("required"+n) != ""}
		for _, x := range []struct {
			name string
			dst  *int
		}{{"min", &f.MinLen}, {"max", &f.MaxLen}} {
			if s := strings.TrimSpace(c.form.Get(x.name + n)); s != "" {
				v, err := strconv.Atoi(s)
				if err != nil || v < 0 {
					return nil, "第 " + strconv.Itoa(i+1) + " 行：字数须为数字"
				}
				*x.dst = v
			}
		}
		row := "第 " + strconv.Itoa(i+1) + " 行："
		switch {
		case !domain.IsFieldKey(f.Key):
			return nil, row + "标识须为小写字母、数字或下划线，以字母开头，最多 32 个字符"
		case seen[f.Key]:
			return nil, row + "标识「" + f.Key + "」重复"
		case f.Label == "" || utf8.RuneCountInString(f.Label) > domain.MaxFieldLabelRunes || !domain.IsPrintable(f.Label):
			return nil, row + "名称须为 1-20 个字"
		case f.Type != domain.FieldText && f.Type != domain.FieldNumber && f.Type != domain.FieldPhone:
			return nil, row + "类型须为文字、数字或手机号"
		case f.MaxLen > domain.MaxFieldValueRunes:
			return nil, row + "最多字数不能超过 " + strconv.Itoa(domain.MaxFieldValueRunes)
		case f.MinLen > f.Max():
			return nil, row + "最少字数不能大于最多字数"
		}
		seen[f.Key] = true
		fs = append(fs, f)
	}
	if err := fs.Check(); err != nil { // the domain's rules, whatever the form let through
		return nil, "填写项设置有误，请检查后重试"
	}
	return fs, ""
}

func (h *Handler) companyFields(ctx context.Context, c *call) web.Response {
	co, resp, ok := h.scope(ctx, c)
	if !ok {
		return resp
	}
	return h.render(http.StatusOK, "payerfields.html", h.page(c, "付款人填写项", fieldsBody{
		Level: "公司", Name: co.Name, Action: "/admin/payer-fields", Back: "/admin/communities" + c.scopeQuery("?"), Rows: fieldRows(co.PayerFields)}))
}

func (h *Handler) saveCompanyFields(ctx context.Context, c *call) web.Response {
	co, resp, ok := h.scope(ctx, c)
	if !ok {
		return resp
	}
	fs, msg := parseFields(c)
	if msg != "" {
		return h.formError(c, msg, "/admin/payer-fields")
	}
	before, after, err := h.Store.UpdateCompany(ctx, co.ID, func(co *store.Company) error { co.PayerFields = fs; return nil })
	if err != nil {
		return h.internal(ctx, c, "save company fields", err)
	}
	h.audit(ctx, c, "payer_fields.update", "company", co.ID, before.PayerFields, after.PayerFields)
	return c.done("/admin/payer-fields", "saved")
}

func (h *Handler) communityFields(ctx context.Context, c *call) web.Response {
	cm, resp, ok := h.loadCommunity(ctx, c, c.params["id"])
	if !ok {
		return resp
	}
	co, err := h.Store.GetCompany(ctx, cm.CompanyID)
	if err != nil {
		return h.internal(ctx, c, "get company", err)
	}
	return h.render(http.StatusOK, "payerfields.html", h.page(c, "付款人填写项", fieldsBody{
		Level: "小区", Name: cm.Name, Inherited: labels(co.PayerFields), Action: "/admin/communities/" + cm.ID + "/payer-fields",
		Back: "/admin/communities/" + cm.ID, Rows: fieldRows(cm.PayerFields)}))
}

func (h *Handler) saveCommunityFields(ctx context.Context, c *call) web.Response {
	cm, resp, ok := h.loadCommunity(ctx, c, c.params["id"])
	if !ok {
		return resp
	}
	fs, msg := parseFields(c)
	if msg != "" {
		return h.formError(c, msg, "/admin/communities/"+cm.ID+"/payer-fields")
	}
	before, after, err := h.Store.UpdateCommunity(ctx, cm.ID, func(cm *store.Community) error { cm.PayerFields = fs; return nil })
	if err != nil {
		return h.internal(ctx, c, "save community fields", err)
	}
	h.audit(ctx, c, "payer_fields.update", "community", cm.ID, before.PayerFields, after.PayerFields)
	return c.done("/admin/communities/"+cm.ID, "saved")
}

func (h *Handler) codeFields(ctx context.Context, c *call) web.Response {
	code, cm, resp, ok := h.loadCode(ctx, c, c.params["token"])
	if !ok {
		return resp
	}
	co, err := h.Store.GetCompany(ctx, cm.CompanyID)
	if err != nil {
		return h.internal(ctx, c, "get company", err)
	}
	return h.render(http.StatusOK, "payerfields.html", h.page(c, "付款人填写项", fieldsBody{
		Level: "收款码", Name: cm.Name + " " + shortToken(code.Token), Inherited: labels(domain.ResolvePayerFields(co.PayerFields, cm.PayerFields, nil)),
		Action: "/admin/codes/" + code.Token + "/payer-fields", Back: "/admin/communities/" + cm.ID, Rows: fieldRows(code.PayerFields)}))
}

func (h *Handler) saveCodeFields(ctx context.Context, c *call) web.Response {
	code, cm, resp, ok := h.loadCode(ctx, c, c.params["token"])
	if !ok {
		return resp
	}
	fs, msg := parseFields(c)
	if msg != "" {
		return h.formError(c, msg, "/admin/codes/"+code.Token+"/payer-fields")
	}
	before, after, err := h.Store.UpdateCode(ctx, code.Token, func(cd *store.Code) error { cd.PayerFields = fs; return nil })
	if err != nil {
		return h.internal(ctx, c, "save code fields", err)
	}
	h.audit(ctx, c, "payer_fields.update", "code", code.Token, before.PayerFields, after.PayerFields)
	return c.done("/admin/communities/"+cm.ID, "saved")
}

// labels lists fields by label ("房号、业主姓名"), "" for none.
func labels(fs domain.PayerFields) string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Label)
	}
	return strings.Join(out, "、")
}
