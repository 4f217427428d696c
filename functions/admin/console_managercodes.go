package main

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/managercode"
	"github.com/estatepay/estatepay/shared/domain/staff"
	"github.com/estatepay/estatepay/shared/qrprint"
	"github.com/estatepay/estatepay/shared/store"
	"github.com/estatepay/estatepay/shared/web"
)

// The console's page of the business managers' codes (M4 切换, M7 码牌):
// admins see each manager's default code and configure extra codes with
// preset payer-field values (add, edit, revoke), and print any of them as
// a code plate (码牌): the poster page or the print PNG.
//
//	GET  /admin/managers                                 the company's managers and their codes
//	POST /admin/managers/{sid}/codes                     add an extra code (name, p_<field key>=preset)
//	POST /admin/managers/{sid}/codes/{mcid}/edit         rename it, change its presets (the token stays)
//	POST /admin/managers/{sid}/codes/{mcid}/revoke       stop it at once
//	GET  /admin/managers/{sid}/codes/{mcid}/plate        the printable plate (?paper=A4|A5)
//	GET  /admin/managers/{sid}/codes/{mcid}/code.png     the print PNG (>= 1024 px, 300 dpi, caption)

func init() {
	register(
		route{method: "GET", pattern: "/admin/managers", action: ActCommunityManage, handle: (*Handler).managersPage},
		route{method: "POST", pattern: "/admin/managers/{sid}/codes", action: ActCommunityManage, handle: (*Handler).addManagerCode},
		route{method: "POST", pattern: "/admin/managers/{sid}/codes/{mcid}/edit", action: ActCommunityManage, handle: (*Handler).editManagerCode},
		route{method: "POST", pattern: "/admin/managers/{sid}/codes/{mcid}/revoke", action: ActCommunityManage, handle: (*Handler).revokeManagerCode},
		route{method: "GET", pattern: "/admin/managers/{sid}/codes/{mcid}/plate", action: ActCommunityManage, handle: (*Handler).managerPlate},
		route{method: "GET", pattern: "/admin/managers/{sid}/codes/{mcid}/code.png", action: ActCommunityManage, handle: (*Handler).managerPlatePNG},
	)
}

type managersBody struct {
	Managers []managerRow
	Scope    string // "?company=…" for the operator
	Company  string // the operator's company (hidden form field)
}

type managerRow struct {
	ID, Name, Phone string
	Active          bool
	Community       string // where the codes pay (the community's interfaces)
	Issued          bool   // has codes
	Codes           []managerCodeRow
	Fields          []presetInput // the add form: one input per payer field
	CanAdd          bool
}

type managerCodeRow struct {
	ID, Name, URL, Issued string
	Default               bool
	Preset                []presetInput
	Plate, PNG            string
}

type presetInput struct {
	Key, Label, Value string
}

// managerOf finds staff sid among the company's managers (404 otherwise:
// another company's staff, or not a manager).
func (h *Handler) managerOf(ctx context.Context, c *call, companyID, sid string) (StaffView, web.Response, bool) {
	list, err := h.Accounts.ListStaff(ctx, c.p)
	if err != nil {
		return StaffView{}, h.internal(ctx, c, "list staff", err), false
	}
	for _, s := range list {
		if s.ID == sid && s.CompanyID == companyID && s.Role == staff.Manager {
			return s, web.Response{}, true
		}
	}
	return StaffView{}, h.notFound(c), false
}

func (h *Handler) managersPage(ctx context.Context, c *call) web.Response {
	co, resp, ok := h.scope(ctx, c)
	if !ok {
		return resp
	}
	m, resp, ok := h.consoleManagers(c)
	if !ok {
		return resp
	}
	list, err := h.Accounts.ListStaff(ctx, c.p)
	if err != nil {
		return h.internal(ctx, c, "list staff", err)
	}
	sets, err := h.Store.ListManagerCodes(ctx, co.ID)
	if err != nil {
		return h.internal(ctx, c, "manager codes", err)
	}
	byStaff := map[string]managercode.Set{}
	for _, s := range sets {
		byStaff[s.StaffID] = s
	}
	body := managersBody{Scope: c.scopeQuery("?"), Company: c.scopeCompany()}
	cols := map[string]store.Collection{}
	fallback, fellBack := "", false // where codes not issued yet would pay (computed once)
	for _, s := range list {
		if s.CompanyID != co.ID || s.Role != staff.Manager {
			continue
		}
		row := managerRow{ID: s.ID, Name: s.Name, Phone: s.Phone, Active: s.Status == "active", CanAdd: true}
		set, issued := byStaff[s.ID]
		communityID := set.CommunityID
		if !issued {
			if !fellBack {
				if fallback, err = collectingCommunity(ctx, h.Store, co.ID); err != nil && !errors.Is(err, errNoCommunity) {
					return h.internal(ctx, c, "collecting community", err)
				}
				fellBack = true
			}
			communityID = fallback
		}
		var fields domain.PayerFields
		if communityID != "" {
			col, ok := cols[communityID]
			if !ok {
				if col, err = h.Store.LoadCommunity(ctx, communityID); err != nil {
					return h.internal(ctx, c, "load community", err)
				}
				cols[communityID] = col
			}
			row.Community, fields = col.Community.Name, col.PayerFields()
		} else {
			row.CanAdd = false
		}
		for _, f := range fields {
			row.Fields = append(row.Fields, presetInput{Key: f.Key, Label: f.Label})
		}
		row.Issued = issued
		for _, code := range set.Codes() {
			if code.Token == "" {
				continue
			}
			base := "/admin/managers/" + url.PathEscape(s.ID) + "/codes/" + url.PathEscape(code.ID)
			cr := managerCodeRow{ID: code.ID, Name: code.Name, URL: qrprint.CodeURL(m.PublicBaseURL, code.Token), Issued: issuedAt(code),
				Default: code.IsDefault(), Plate: base + "/plate" + c.scopeQuery("?"), PNG: base + "/code.png" + c.scopeQuery("?")}
			for _, f := range fields {
				cr.Preset = append(cr.Preset, presetInput{Key: f.Key, Label: f.Label, Value: code.Preset[f.Key]})
			}
			row.Codes = append(row.Codes, cr)
		}
		body.Managers = append(body.Managers, row)
	}
	slices.SortFunc(body.Managers, func(a, b managerRow) int { return strings.Compare(a.Name+a.ID, b.Name+b.ID) })
	return h.render(http.StatusOK, "managercodes.html", h.page(c, "业务经理收款码", body))
}

func issuedAt(c managercode.Code) string {
	if c.IssuedAt.IsZero() {
		return ""
	}
	return shanghai(c.IssuedAt)[:16]
}

// consoleManagers is the managers' codes part of the console (501 without).
func (h *Handler) consoleManagers(c *call) (*ManagerApp, web.Response, bool) {
	if h.Managers == nil {
		return nil, h.fail(c, http.StatusNotImplemented, "not_implemented", "该功能即将上线"), false
	}
	return h.Managers, web.Response{}, true
}

// presetForm reads the p_<key> inputs of the payer fields fields.
func presetForm(c *call, fields domain.PayerFields) map[string]string {
	out := map[string]string{}
	for _, f := range fields {
		if v := strings.TrimSpace(c.form.Get("p_" + f.Key)); v != "" {
			out[f.Key] = v
		}
	}
	return out
}

// managerTarget is a manager of the caller's company and their codes'
// payer fields, for the write routes.
func (h *Handler) managerTarget(ctx context.Context, c *call) (*ManagerApp, StaffView, managercode.Set, domain.PayerFields, web.Response, bool) {
	co, resp, ok := h.scope(ctx, c)
	if !ok {
		return nil, StaffView{}, managercode.Set{}, nil, resp, false
	}
	s, resp, ok := h.managerOf(ctx, c, co.ID, c.params["sid"])
	if !ok {
		return nil, s, managercode.Set{}, nil, resp, false
	}
	m, resp, ok := h.consoleManagers(c)
	if !ok {
		return nil, StaffView{}, managercode.Set{}, nil, resp, false
	}
	set, err := m.ensureSet(ctx, s.ID, co.ID, s.Name)
	if errors.Is(err, errNoCommunity) {
		return nil, s, set, nil, h.formError(c, "公司还没有小区：请先新建小区并开通支付，再为业务经理配置收款码", "/admin/managers"), false
	}
	if err != nil {
		return nil, s, set, nil, h.internal(ctx, c, "manager codes", err), false
	}
	col, err := h.Store.LoadCommunity(ctx, set.CommunityID)
	if err != nil {
		return nil, s, set, nil, h.internal(ctx, c, "load community", err), false
	}
	return m, s, set, col.PayerFields(), web.Response{}, true
}

// changeCodes applies change to the manager's codes and answers: the page
// again with a notice, a form error people can correct, 404 for a code that
// is not there.
func (h *Handler) changeCodes(ctx context.Context, c *call, m *ManagerApp, s StaffView, action, notice string, change store.ManagerCodesChange) web.Response {
	before, after, err := m.Store.ChangeManagerCodes(ctx, s.ID, s.Name, change)
	var inv *managercode.InvalidError
	switch {
	case errors.As(err, &inv):
		return h.formError(c, inv.Msg, "/admin/managers")
	case errors.Is(err, managercode.ErrNotFound):
		return h.notFound(c)
	case errors.Is(err, store.ErrConflict):
		return h.formError(c, "收款码刚被修改，请刷新后重试", "/admin/managers")
	case err != nil:
		return h.internal(ctx, c, action, err)
	}
	h.audit(ctx, c, action, "manager_code", s.ID+"/"+c.params["mcid"], auditCodes(before), auditCodes(after))
	return c.done("/admin/managers", notice)
}

// auditCodes is what the audit log keeps of a set: names and presets, no
// whole token.
func auditCodes(s managercode.Set) []map[string]any {
	var out []map[string]any
	for _, c := range s.Codes() {
		out = append(out, map[string]any{"id": c.ID, "name": c.Name, "preset": c.Preset, "token_prefix": prefix(c.Token)})
	}
	return out
}

func (h *Handler) addManagerCode(ctx context.Context, c *call) web.Response {
	m, s, _, fields, resp, ok := h.managerTarget(ctx, c)
	if !ok {
		return resp
	}
	id, token := newID("mc"), m.newToken()
	return h.changeCodes(ctx, c, m, s, "manager_code.create", "created", func(set *managercode.Set) ([]managercode.Superseded, error) {
		_, err := set.AddExtra(id, c.form.Get("name"), token, presetForm(c, fields), fields, m.now())
		return nil, err
	})
}

func (h *Handler) editManagerCode(ctx context.Context, c *call) web.Response {
	m, s, _, fields, resp, ok := h.managerTarget(ctx, c)
	if !ok {
		return resp
	}
	return h.changeCodes(ctx, c, m, s, "manager_code.update", "saved", func(set *managercode.Set) ([]managercode.Superseded, error) {
		_, err := set.EditExtra(c.params["mcid"], c.form.Get("name"), presetForm(c, fields), fields)
		return nil, err
	})
}

func (h *Handler) revokeManagerCode(ctx context.Context, c *call) web.Response {
	m, s, _, _, resp, ok := h.managerTarget(ctx, c)
	if !ok {
		return resp
	}
	return h.changeCodes(ctx, c, m, s, "manager_code.revoke", "revoked", func(set *managercode.Set) ([]managercode.Superseded, error) {
		_, err := set.RevokeExtra(c.params["mcid"])
		return nil, err
	})
}

// plateCode resolves the code {mcid} of manager {sid} of the caller's
// company for printing (its current token).
func (h *Handler) plateCode(ctx context.Context, c *call) (store.Collection, managercode.Code, string, web.Response, bool) {
	co, resp, ok := h.scope(ctx, c)
	if !ok {
		return store.Collection{}, managercode.Code{}, "", resp, false
	}
	set, err := h.Store.GetManagerCodes(ctx, c.params["sid"])
	if errors.Is(err, store.ErrNotFound) || (err == nil && set.CompanyID != co.ID) {
		return store.Collection{}, managercode.Code{}, "", h.notFound(c), false
	}
	if err != nil {
		return store.Collection{}, managercode.Code{}, "", h.internal(ctx, c, "manager codes", err), false
	}
	m, resp, ok := h.consoleManagers(c)
	if !ok {
		return store.Collection{}, managercode.Code{}, "", resp, false
	}
	code, found := set.Find(c.params["mcid"])
	if !found || c.params["mcid"] == "" {
		return store.Collection{}, managercode.Code{}, "", h.notFound(c), false
	}
	col, err := h.Store.LoadCollection(ctx, code.Token)
	if err != nil {
		return store.Collection{}, managercode.Code{}, "", h.internal(ctx, c, "load code", err), false
	}
	return col, code, qrprint.CodeURL(m.PublicBaseURL, code.Token), web.Response{}, true
}

// plateName is what a plate says the code is: the manager, and the code's
// name when it is an extra one.
func plateName(col store.Collection, code managercode.Code) string {
	name := "收款人：" + col.Code.OwnerName
	if !code.IsDefault() {
		name += " · " + code.Name
	}
	return name
}

func (h *Handler) managerPlate(ctx context.Context, c *call) web.Response {
	col, code, u, resp, ok := h.plateCode(ctx, c)
	if !ok {
		return resp
	}
	var labels []string
	for _, f := range col.PayerFields() {
		if code.Preset[f.Key] == "" {
			labels = append(labels, f.Label)
		}
	}
	q := url.Values{}
	if co := c.scopeCompany(); c.p.Role == RoleOperator && co != "" {
		q.Set("company", co)
	}
	b, err := qrprint.RenderPoster(qrprint.Poster{Title: "扫码付款", Page: "付款页面", Community: plateName(col, code), Company: col.Company.Name, URL: u,
		Apps: col.Availability(), Fields: labels, Paper: qrprint.ParsePaper(c.req.QueryStringParameters["paper"]), Query: q, Fenfu: offersFenfu(col)})
	if err != nil {
		return h.internal(ctx, c, "plate", err)
	}
	r := file("text/html; charset=utf-8", b, false)
	r.Headers["Content-Security-Policy"] = qrprint.PosterCSP
	return r
}

func (h *Handler) managerPlatePNG(ctx context.Context, c *call) web.Response {
	col, code, u, resp, ok := h.plateCode(ctx, c)
	if !ok {
		return resp
	}
	b, err := qrprint.PNG(u, qrprint.Label{Community: plateName(col, code), Company: col.Company.Name, Fenfu: offersFenfu(col)})
	if err != nil {
		return h.internal(ctx, c, "plate png", err)
	}
	r := file("image/png", b, true)
	r.Headers["Content-Disposition"] = disposition(c.req, col.Code.OwnerName+"-"+code.Name+"-码牌.png", "plate-"+code.ID+".png")
	return r
}
