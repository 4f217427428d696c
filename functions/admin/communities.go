package main

import (
	"context"
	"errors"
	"net/http"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/store"
	"github.com/estatepay/estatepay/shared/web"
)

// MaxNameRunes is the longest company or community name.
const MaxNameRunes = 40

// cleanName trims a name and checks it: 1-40 printable characters.
func cleanName(s string) (string, bool) {
	s = strings.TrimSpace(s)
	n := utf8.RuneCountInString(s)
	return s, n > 0 && n <= MaxNameRunes && domain.IsPrintable(s)
}

// ---------------------------------------------------------------- companies (operator)

type companyRow struct{ ID, Name, Alipay string }

func (h *Handler) companies(ctx context.Context, c *call) web.Response {
	cos, err := h.Store.ListCompanies(ctx)
	if err != nil {
		return h.internal(ctx, c, "list companies", err)
	}
	sort.Slice(cos, func(i, j int) bool { return cos[i].Name < cos[j].Name })
	rows := make([]companyRow, 0, len(cos))
	for _, co := range cos {
		rows = append(rows, companyRow{ID: co.ID, Name: co.Name})
	}
	return h.render(http.StatusOK, "companies.html", h.page(c, "物业公司", struct{ Companies []companyRow }{rows}))
}

func (h *Handler) createCompany(ctx context.Context, c *call) web.Response {
	name, ok := cleanName(c.form.Get("name"))
	if !ok {
		return h.formError(c, "公司名称须为 1-40 个字", "/admin/companies")
	}
	co := store.Company{ID: newID("co-"), Name: name}
	if err := h.Store.CreateCompany(ctx, co); err != nil {
		return h.internal(ctx, c, "create company", err)
	}
	h.audit(ctx, c, "company.create", "company", co.ID, nil, co)
	return web.Redirect("/admin/companies/" + co.ID + "?done=created")
}

// loadCompany reads a company the caller may act on (404 otherwise).
func (h *Handler) loadCompany(ctx context.Context, c *call, id string) (store.Company, web.Response, bool) {
	if !owns(c.p, id) {
		return store.Company{}, h.notFound(c), false
	}
	co, err := h.Store.GetCompany(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return co, h.notFound(c), false
	}
	if err != nil {
		return co, h.internal(ctx, c, "get company", err), false
	}
	return co, web.Response{}, true
}

func (h *Handler) company(ctx context.Context, c *call) web.Response {
	co, resp, ok := h.loadCompany(ctx, c, c.params["cid"])
	if !ok {
		return resp
	}
	c.req.QueryStringParameters = withParam(c.req.QueryStringParameters, "company", co.ID)
	return h.render(http.StatusOK, "company.html", h.page(c, co.Name, companyRow{ID: co.ID, Name: co.Name, Alipay: co.AlipayIfaceID}))
}

func withParam(q map[string]string, k, v string) map[string]string {
	out := map[string]string{k: v}
	for a, b := range q {
		if a != k {
			out[a] = b
		}
	}
	return out
}

func (h *Handler) updateCompany(ctx context.Context, c *call) web.Response {
	id := c.params["cid"]
	if _, resp, ok := h.loadCompany(ctx, c, id); !ok {
		return resp
	}
	name, ok := cleanName(c.form.Get("name"))
	if !ok {
		return h.formError(c, "公司名称须为 1-40 个字", "/admin/companies/"+id)
	}
	before, after, err := h.Store.UpdateCompany(ctx, id, func(co *store.Company) error { co.Name = name; return nil })
	if err != nil {
		return h.internal(ctx, c, "update company", err)
	}
	h.audit(ctx, c, "company.update", "company", id, before, after)
	return web.Redirect("/admin/companies/" + id + "?done=saved")
}

// ---------------------------------------------------------------- communities

// scope resolves the company a list or create acts in (the operator's comes
// from ?company= / the form and must exist).
func (h *Handler) scope(ctx context.Context, c *call) (store.Company, web.Response, bool) {
	id := c.scopeCompany()
	if id == "" && c.p.Role == RoleOperator {
		if c.api {
			return store.Company{}, web.Error(http.StatusBadRequest, "company_required", "请指定公司：?company=<id>"), false
		}
		return store.Company{}, web.Redirect("/admin/companies"), false
	}
	return h.loadCompany(ctx, c, id)
}

type communityRow struct {
	ID, Name, Max string
	WeChat        bool // WeChat Pay usable (C2)
	Alipay        bool
	Codes         int // active codes
}

// companyInterfaces maps a company's interfaces by id.
func (h *Handler) companyInterfaces(ctx context.Context, companyID string) (map[string]store.Interface, error) {
	is, err := h.Store.ListInterfaces(ctx, companyID)
	if err != nil {
		return nil, err
	}
	m := make(map[string]store.Interface, len(is))
	for _, i := range is {
		m[i.ID] = i
	}
	return m, nil
}

// availability applies C2 to a community from its company's interfaces.
func availability(co store.Company, cm store.Community, ifaces map[string]store.Interface) domain.Availability {
	in := domain.ChannelInputs{}
	if i, ok := ifaces[co.AlipayIfaceID]; ok && i.Channel == domain.Alipay {
		in.AlipayStatus = i.Status
	}
	if i, ok := ifaces[cm.WeChatIfaceID]; ok && i.Channel == domain.WeChat {
		in.WeChatStatus, in.WeChatAssociated = i.Status, true
	}
	return domain.ChannelAvailability(in)
}

func (h *Handler) communities(ctx context.Context, c *call) web.Response {
	co, resp, ok := h.scope(ctx, c)
	if !ok {
		return resp
	}
	cms, err := h.Store.ListCommunities(ctx, co.ID)
	if err != nil {
		return h.internal(ctx, c, "list communities", err)
	}
	ifaces, err := h.companyInterfaces(ctx, co.ID)
	if err != nil {
		return h.internal(ctx, c, "list interfaces", err)
	}
	sort.Slice(cms, func(i, j int) bool { return cms[i].Name < cms[j].Name })
	rows := make([]communityRow, 0, len(cms))
	for _, cm := range cms {
		codes, err := h.Store.ListCodes(ctx, cm.ID)
		if err != nil {
			return h.internal(ctx, c, "list codes", err)
		}
		av := availability(co, cm, ifaces)
		row := communityRow{ID: cm.ID, Name: cm.Name, Max: domain.FormatYuan(h.maxFen(cm)), WeChat: av.WeChat, Alipay: av.Alipay}
		for _, code := range codes {
			if code.Status == "active" {
				row.Codes++
			}
		}
		rows = append(rows, row)
	}
	body := struct {
		Company     string
		Communities []communityRow
		CanManage   bool
		CanRecords  bool
		DefaultMax  string
	}{co.Name, rows, can(c.p.Role, ActCommunityManage), can(c.p.Role, ActRecordsView), domain.FormatYuan(h.MaxAmountFen)}
	if c.p.Role != RoleOperator {
		body.Company = ""
	}
	return h.render(http.StatusOK, "communities.html", h.page(c, "小区", body))
}

func (h *Handler) maxFen(cm store.Community) int64 {
	if cm.MaxAmountFen > 0 {
		return cm.MaxAmountFen
	}
	return h.MaxAmountFen
}

// parseMax reads the single-payment limit in yuan ("" = the default).
func (h *Handler) parseMax(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, true
	}
	fen, err := domain.ParseYuan(s)
	return fen, err == nil && fen > 0 && fen <= h.MaxAmountFen
}

func (h *Handler) maxError() string {
	return "单笔上限须为 0.01 至 " + domain.FormatYuan(h.MaxAmountFen) + " 元"
}

func (h *Handler) createCommunity(ctx context.Context, c *call) web.Response {
	co, resp, ok := h.scope(ctx, c)
	if !ok {
		return resp
	}
	name, ok := cleanName(c.form.Get("name"))
	if !ok {
		return h.formError(c, "小区名称须为 1-40 个字", "/admin/communities")
	}
	maxFen, ok := h.parseMax(c.form.Get("max"))
	if !ok {
		return h.formError(c, h.maxError(), "/admin/communities")
	}
	cm := store.Community{ID: newID("cm-"), CompanyID: co.ID, Name: name, MaxAmountFen: maxFen}
	if err := h.Store.CreateCommunity(ctx, cm); err != nil {
		return h.internal(ctx, c, "create community", err)
	}
	h.audit(ctx, c, "community.create", "community", cm.ID, nil, cm)
	// A community starts with one active code, ready to print.
	code := store.Code{Token: newCodeToken(), CommunityID: cm.ID, Kind: "community", Status: "active"}
	if err := h.Store.CreateCode(ctx, code); err != nil {
		return h.internal(ctx, c, "create code", err)
	}
	h.audit(ctx, c, "code.create", "code", code.Token, nil, code)
	return c.done("/admin/communities/"+cm.ID, "created")
}

// loadCommunity reads a community of the caller's company (404 otherwise,
// also for another company's).
func (h *Handler) loadCommunity(ctx context.Context, c *call, id string) (store.Community, web.Response, bool) {
	cm, err := h.Store.GetCommunity(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !owns(c.p, cm.CompanyID)) {
		return cm, h.notFound(c), false
	}
	if err != nil {
		return cm, h.internal(ctx, c, "get community", err), false
	}
	if c.p.Role == RoleOperator {
		c.req.QueryStringParameters = withParam(c.req.QueryStringParameters, "company", cm.CompanyID)
	}
	return cm, web.Response{}, true
}

type option struct {
	ID, Label string
	Selected  bool
}

type codeRow struct {
	Token, Short string
	Active       bool
	Fields       int
	DynamicOnly  bool // F7: only the screen code pays (dyncode.go)
}

func (h *Handler) community(ctx context.Context, c *call) web.Response {
	cm, resp, ok := h.loadCommunity(ctx, c, c.params["id"])
	if !ok {
		return resp
	}
	co, err := h.Store.GetCompany(ctx, cm.CompanyID)
	if err != nil {
		return h.internal(ctx, c, "get company", err)
	}
	ifaces, err := h.companyInterfaces(ctx, co.ID)
	if err != nil {
		return h.internal(ctx, c, "list interfaces", err)
	}
	codes, err := h.Store.ListCodes(ctx, cm.ID)
	if err != nil {
		return h.internal(ctx, c, "list codes", err)
	}
	sort.SliceStable(codes, func(i, j int) bool { return codes[i].Status == "active" && codes[j].Status != "active" })
	av := availability(co, cm, ifaces)
	body := struct {
		ID, Name, Max, DefaultMax string
		WeChat, Alipay            bool
		WeChatIface, AlipayIface  string
		WeChatOptions             []option
		Codes                     []codeRow
		Fields                    int
		CanManage, CanRecords     bool
		CanNotices                bool
		CanBills, CanImport       bool
		Scope                     string // "?company=…" for the operator
	}{ID: cm.ID, Name: cm.Name, DefaultMax: domain.FormatYuan(h.MaxAmountFen), WeChat: av.WeChat, Alipay: av.Alipay,
		Fields: len(cm.PayerFields), CanManage: can(c.p.Role, ActCommunityManage), CanRecords: can(c.p.Role, ActRecordsView),
		CanNotices: can(c.p.Role, ActNoticesPrint), CanBills: can(c.p.Role, ActBillsView), CanImport: can(c.p.Role, ActBillsImport),
		Scope: c.scopeQuery("?")}
	if cm.MaxAmountFen > 0 {
		body.Max = domain.FormatYuan(cm.MaxAmountFen)
	}
	if i, ok := ifaces[co.AlipayIfaceID]; ok {
		body.AlipayIface = ifaceLabel(i)
	}
	if i, ok := ifaces[cm.WeChatIfaceID]; ok {
		body.WeChatIface = ifaceLabel(i)
	}
	ids := make([]string, 0, len(ifaces))
	for id := range ifaces {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		if i := ifaces[id]; i.Channel == domain.WeChat {
			body.WeChatOptions = append(body.WeChatOptions, option{ID: i.ID, Label: ifaceLabel(i), Selected: i.ID == cm.WeChatIfaceID})
		}
	}
	for _, code := range codes {
		body.Codes = append(body.Codes, codeRow{Token: code.Token, Short: shortToken(code.Token), Active: code.Status == "active", Fields: len(code.PayerFields), DynamicOnly: code.DynamicOnly})
	}
	return h.render(http.StatusOK, "community.html", h.page(c, cm.Name, body))
}

func shortToken(t string) string {
	if len(t) <= 10 {
		return t
	}
	return t[:6] + "…" + t[len(t)-4:]
}

func (h *Handler) updateCommunity(ctx context.Context, c *call) web.Response {
	id := c.params["id"]
	if _, resp, ok := h.loadCommunity(ctx, c, id); !ok {
		return resp
	}
	back := "/admin/communities/" + id
	name, ok := cleanName(c.form.Get("name"))
	if !ok {
		return h.formError(c, "小区名称须为 1-40 个字", back)
	}
	maxFen, ok := h.parseMax(c.form.Get("max"))
	if !ok {
		return h.formError(c, h.maxError(), back)
	}
	before, after, err := h.Store.UpdateCommunity(ctx, id, func(cm *store.Community) error {
		cm.Name, cm.MaxAmountFen = name, maxFen
		return nil
	})
	if err != nil {
		return h.internal(ctx, c, "update community", err)
	}
	h.audit(ctx, c, "community.update", "community", id, before, after)
	return c.done(back, "saved")
}

// associateWeChat is 微信支付设置: the community's WeChat Pay interface, one
// of its company's ("" removes it).
func (h *Handler) associateWeChat(ctx context.Context, c *call) web.Response {
	id := c.params["id"]
	cm, resp, ok := h.loadCommunity(ctx, c, id)
	if !ok {
		return resp
	}
	ifaceID := c.form.Get("iface")
	if ifaceID != "" {
		i, err := h.Store.GetInterface(ctx, ifaceID)
		if errors.Is(err, store.ErrNotFound) || (err == nil && (i.CompanyID != cm.CompanyID || i.Channel != domain.WeChat)) {
			return h.formError(c, "请选择本公司的微信支付接口", "/admin/communities/"+id)
		}
		if err != nil {
			return h.internal(ctx, c, "get interface", err)
		}
	}
	before, after, err := h.Store.UpdateCommunity(ctx, id, func(cm *store.Community) error { cm.WeChatIfaceID = ifaceID; return nil })
	if err != nil {
		return h.internal(ctx, c, "associate wechat", err)
	}
	h.audit(ctx, c, "community.wechat", "community", id, before, after)
	return c.done("/admin/communities/"+id, "saved")
}

// ---------------------------------------------------------------- JSON API

// CommunityJSON is a community in GET /admin/api/communities.
type CommunityJSON struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	CodeURL string `json:"code_url"` // the active code's URL ("" when none is active)
}

// apiCommunities is GET /admin/api/communities: the caller's company's
// communities (the operator names the company with ?company=).
func (h *Handler) apiCommunities(ctx context.Context, c *call) web.Response {
	co, resp, ok := h.scope(ctx, c)
	if !ok {
		return resp
	}
	cms, err := h.Store.ListCommunities(ctx, co.ID)
	if err != nil {
		return h.internal(ctx, c, "list communities", err)
	}
	sort.Slice(cms, func(i, j int) bool { return cms[i].ID < cms[j].ID })
	out := make([]CommunityJSON, 0, len(cms))
	for _, cm := range cms {
		codes, err := h.Store.ListCodes(ctx, cm.ID)
		if err != nil {
			return h.internal(ctx, c, "list codes", err)
		}
		j := CommunityJSON{ID: cm.ID, Name: cm.Name}
		if code, ok := store.ActiveCode(codes); ok {
			j.CodeURL = h.codeURL(code.Token)
		}
		out = append(out, j)
	}
	return web.JSON(http.StatusOK, map[string]any{"communities": out})
}

func (h *Handler) codeURL(token string) string {
	return strings.TrimSuffix(h.PublicBaseURL, "/") + "/c/" + token
}
