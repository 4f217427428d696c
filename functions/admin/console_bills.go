package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/estatepay/estatepay/shared/bills"
	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/bill"
	"github.com/estatepay/estatepay/shared/domain/house"
	"github.com/estatepay/estatepay/shared/sheet"
	"github.com/estatepay/estatepay/shared/store"
	"github.com/estatepay/estatepay/shared/web"
)

// The console's pages for houses, bills, fee items and imports (issue 8,
// X6), over the same store calls as the JSON API (bills.go):
//
//	GET  /admin/communities/{id}/houses      房屋: building/unit filter, pages, phones masked
//	GET  /admin/communities/{id}/bills       账单: status, period, building, unit, room (or house) filters, pages, CSV link
//	GET  /admin/communities/{id}/fee-items   收费项目: the list; the form (?edit=<name> fills it)
//	POST /admin/communities/{id}/fee-items   add or replace one (by name)
//	GET  /admin/communities/{id}/imports     导入: the upload form
//	POST /admin/communities/{id}/imports     upload (multipart: houses and/or bills): the row errors, or on to the job
//	GET  /admin/imports/{jid}                the job: progress; with a valid ?step= a writing job writes on first
//	POST /admin/imports/{jid}/run            继续: write on, then back to the job page
//
// A running job's page refreshes itself (<meta http-equiv="refresh">, no
// script: the CSP allows none). A refresh is a GET, and a GET must not
// change anything an attacker could trigger, so the job page writes only
// when its URL carries ?step=, an HMAC of the job id keyed by the session's
// CSRF token: only pages this session was served (the upload's redirect,
// the page's own refresh) hold it, another site cannot make one, and a
// leaked link is worthless in another session. A GET without it (a
// bookmark, a link from elsewhere) shows the progress and a 继续 button (a
// POST with the CSRF token) instead of refreshing. What a step does is only
// what the signed-in admin already asked: write on a validated import.
func init() {
	register(
		route{method: "GET", pattern: "/admin/communities/{id}/houses", action: ActBillsView, handle: (*Handler).housesPage},
		route{method: "GET", pattern: "/admin/communities/{id}/bills", action: ActBillsView, handle: (*Handler).billsListPage},
		route{method: "GET", pattern: "/admin/communities/{id}/fee-items", action: ActBillsView, handle: (*Handler).feeItemsPage},
		route{method: "POST", pattern: "/admin/communities/{id}/fee-items", action: ActBillsImport, handle: (*Handler).saveFeeItem},
		route{method: "GET", pattern: "/admin/communities/{id}/imports", action: ActBillsImport, handle: (*Handler).importPage},
		route{method: "POST", pattern: "/admin/communities/{id}/imports", action: ActBillsImport, upload: true, handle: (*Handler).importUpload},
		route{method: "GET", pattern: "/admin/imports/{jid}", action: ActBillsImport, handle: (*Handler).importJobPage},
		route{method: "POST", pattern: "/admin/imports/{jid}/run", action: ActBillsImport, handle: (*Handler).importRunForm},
	)
}

// Bounds of the pages.
const (
	pageRows = 50 // houses or bills a page
	// pageRunBudget is how long one page request writes: short enough that
	// the progress bar moves every couple of seconds.
	pageRunBudget = 2 * time.Second
	// refreshSeconds is how soon a running job's page reloads.
	refreshSeconds = 1
)

// communityPath is /admin/communities/<id><rest>.
func communityPath(id, rest string) string {
	return "/admin/communities/" + url.PathEscape(id) + rest
}

// withQuery appends q (and the operator's company) to path.
func withQuery(c *call, path string, q url.Values) string {
	if c.p.Role == RoleOperator && c.scopeCompany() != "" {
		q = cloneValues(q)
		q.Set("company", c.scopeCompany())
	}
	if len(q) == 0 {
		return path
	}
	return path + "?" + q.Encode()
}

func cloneValues(q url.Values) url.Values {
	out := url.Values{}
	for k, v := range q {
		out[k] = append([]string(nil), v...)
	}
	return out
}

// pager fills the first/next links of a listing from its filters.
func pager(c *call, base string, q url.Values, next string) (first, nextLink string) {
	if c.req.QueryStringParameters["cursor"] != "" {
		first = withQuery(c, base, q)
	}
	if next != "" {
		nq := cloneValues(q)
		nq.Set("cursor", next)
		nextLink = withQuery(c, base, nq)
	}
	return first, nextLink
}

// ---------------------------------------------------------------- 房屋

type houseListRow struct {
	HouseJSON
	Bills string // the house's bills page
}

type housesBody struct {
	ID, Community   string
	Building, Unit  string
	Rows            []houseListRow
	Error           string
	First, Next     string
	Filtered        bool
	CanImport       bool
	Import, BillsOf string
}

func (h *Handler) housesPage(ctx context.Context, c *call) web.Response {
	cm, resp, ok := h.loadCommunity(ctx, c, c.params["id"])
	if !ok {
		return resp
	}
	qs := c.req.QueryStringParameters
	b := housesBody{ID: cm.ID, Community: cm.Name, Building: strings.TrimSpace(qs["building"]), Unit: strings.TrimSpace(qs["unit"]),
		CanImport: can(c.p.Role, ActBillsImport), Import: withQuery(c, communityPath(cm.ID, "/imports"), nil)}
	q := url.Values{}
	if b.Building != "" {
		q.Set("building", b.Building)
	}
	if b.Unit != "" {
		q.Set("unit", b.Unit)
	}
	b.Filtered = len(q) > 0
	status := http.StatusOK
	switch {
	case b.Unit != "" && b.Building == "":
		b.Error, status = "按单元筛选时请同时填写楼栋", http.StatusBadRequest
	case strings.ContainsAny(b.Building+b.Unit, "#\x00") || len([]rune(b.Building)) > 16 || len([]rune(b.Unit)) > 16:
		b.Error, status = "楼栋、单元最多 16 个字，且不能包含 #", http.StatusBadRequest
	}
	if b.Error == "" {
		page, err := h.Store.HouseRepo().ListHouses(ctx, cm.CompanyID, cm.ID, b.Building, b.Unit, qs["cursor"], pageRows)
		if errors.Is(err, store.ErrBadCursor) {
			return h.fail(c, http.StatusBadRequest, "bad_cursor", "翻页参数无效，请从第一页重新查询")
		}
		if err != nil {
			return h.internal(ctx, c, "houses page", err)
		}
		for _, hs := range page.Items {
			b.Rows = append(b.Rows, houseListRow{HouseJSON: houseJSON(hs), Bills: withQuery(c, communityPath(cm.ID, "/bills"), url.Values{"house": {hs.ID}})})
		}
		b.First, b.Next = pager(c, communityPath(cm.ID, "/houses"), q, page.Next)
	}
	return h.render(status, "houses.html", h.page(c, cm.Name+" · 房屋", b))
}

// ---------------------------------------------------------------- 账单

type billListRow struct {
	BillJSON
	StatusClass string
}

type billsBody struct {
	ID, Community string
	Filter        map[string]string // as entered
	House         string            // the house filtered on (its label), from ?house= or building+room
	Rows          []billListRow
	Error         string
	First, Next   string
	CSV           string
	Filtered      bool
	Statuses      []option
}

var billStatusClass = map[bill.Status]string{bill.Unpaid: "warn", bill.Reserved: "warn", bill.Paid: "ok", bill.Waived: ""}

// billsListPage: the community's bills with the filters of the API plus a
// room (with its building and unit it names one house).
func (h *Handler) billsListPage(ctx context.Context, c *call) web.Response {
	cm, resp, ok := h.loadCommunity(ctx, c, c.params["id"])
	if !ok {
		return resp
	}
	qs := c.req.QueryStringParameters
	b := billsBody{ID: cm.ID, Community: cm.Name, Filter: map[string]string{}}
	q := url.Values{}
	for _, k := range []string{"status", "period", "building", "unit", "room", "house"} {
		if v := strings.TrimSpace(qs[k]); v != "" {
			b.Filter[k] = v
			q.Set(k, v)
		}
	}
	b.Filtered = len(q) > 0
	f := billFilter(b.Filter)
	status := http.StatusOK
	if room := b.Filter["room"]; room != "" {
		if f.Building == "" {
			b.Error = "按房号筛选时请同时填写楼栋"
		}
		f.HouseID = house.ID(cm.CompanyID, cm.ID, f.Building, f.Unit, room)
		b.House = house.Label(f.Building, f.Unit, room)
	} else if f.HouseID != "" {
		hs, err := h.Store.HouseRepo().GetHouse(ctx, cm.CompanyID, f.HouseID)
		switch {
		case errors.Is(err, house.ErrNotFound) || (err == nil && hs.CommunityID != cm.ID):
			b.Error = "该房屋不存在"
		case err != nil:
			return h.internal(ctx, c, "get house", err)
		default:
			b.House, f.Building, f.Unit = hs.Label(), "", ""
		}
	}
	if b.Error == "" {
		if err := f.Check(); err != nil {
			b.Error = store.FilterMessage(err)
		}
	}
	for _, s := range []bill.Status{bill.Unpaid, bill.Reserved, bill.Paid, bill.Waived} {
		b.Statuses = append(b.Statuses, option{ID: string(s), Label: billStatusName(s), Selected: f.Status == s})
	}
	if b.Error != "" {
		status = http.StatusBadRequest
	} else {
		page, err := h.Store.BillRepo().CommunityBills(ctx, cm.CompanyID, cm.ID, f, qs["cursor"], pageRows)
		switch {
		case errors.Is(err, store.ErrBadCursor):
			return h.fail(c, http.StatusBadRequest, "bad_cursor", "翻页参数无效，请从第一页重新查询")
		case errors.Is(err, store.ErrBadFilter):
			b.Error, status = store.FilterMessage(err), http.StatusBadRequest
		case err != nil:
			return h.internal(ctx, c, "bills page", err)
		}
		for _, x := range page.Items {
			b.Rows = append(b.Rows, billListRow{BillJSON: billJSON(x), StatusClass: billStatusClass[x.Status]})
		}
		b.First, b.Next = pager(c, communityPath(cm.ID, "/bills"), q, page.Next)
		// The export takes the API's filters: the house by its id.
		cq := url.Values{}
		for k, v := range map[string]string{"status": string(f.Status), "period": f.Period, "building": f.Building, "unit": f.Unit, "house": f.HouseID} {
			if v != "" {
				cq.Set(k, v)
			}
		}
		b.CSV = withQuery(c, "/admin/api/communities/"+url.PathEscape(cm.ID)+"/bills.csv", cq)
	}
	return h.render(status, "bills.html", h.page(c, cm.Name+" · 账单", b))
}

// ---------------------------------------------------------------- 收费项目

type feeForm struct {
	Name, Kind, Amount, Cycle string
	Editing                   bool
}

type feeItemsBody struct {
	ID, Community string
	Items         []FeeItemJSON
	CanEdit       bool
	Form          feeForm
	Cycles        []option
	Error         string
	Import        string
}

func (h *Handler) feeItemsPage(ctx context.Context, c *call) web.Response {
	cm, resp, ok := h.loadCommunity(ctx, c, c.params["id"])
	if !ok {
		return resp
	}
	form := feeForm{Kind: "fixed", Cycle: string(bill.Monthly)}
	if name := c.req.QueryStringParameters["edit"]; name != "" {
		form.Name, form.Editing = name, true
	}
	return h.renderFeeItems(ctx, c, cm, form, "", http.StatusOK)
}

func (h *Handler) renderFeeItems(ctx context.Context, c *call, cm store.Community, form feeForm, msg string, status int) web.Response {
	items, err := h.Store.HouseRepo().FeeItems(ctx, cm.CompanyID, cm.ID)
	if err != nil {
		return h.internal(ctx, c, "fee items", err)
	}
	b := feeItemsBody{ID: cm.ID, Community: cm.Name, CanEdit: can(c.p.Role, ActBillsImport), Error: msg,
		Import: withQuery(c, communityPath(cm.ID, "/imports"), nil)}
	for _, f := range items {
		b.Items = append(b.Items, feeItemJSON(f))
		if form.Editing && msg == "" && f.Name == form.Name { // ?edit=: the form holds the item
			form.Kind, form.Cycle = "fixed", string(f.Cycle)
			form.Amount = domain.FormatYuan(f.FixedFen)
			if f.PerM2Fen > 0 {
				form.Kind, form.Amount = "per_m2", domain.FormatYuan(f.PerM2Fen)
			}
		}
	}
	b.Form = form
	for _, cy := range bill.Cycles() {
		b.Cycles = append(b.Cycles, option{ID: string(cy), Label: cy.Name(), Selected: string(cy) == form.Cycle})
	}
	return h.render(status, "feeitems.html", h.page(c, cm.Name+" · 收费项目", b))
}

// parseFeeItem checks a fee item as entered (yuan): the item, or the
// Chinese message of what to correct.
func parseFeeItem(cm store.Community, name, kind, amount, cycle string, now time.Time) (bill.FeeItem, string) {
	f := bill.FeeItem{CompanyID: cm.CompanyID, CommunityID: cm.ID, Name: strings.TrimSpace(name), Cycle: bill.Cycle(cycle)}
	amount = strings.TrimSpace(amount)
	if amount == "" {
		return f, "请填写金额"
	}
	fen, err := domain.ParseYuan(amount)
	if err != nil {
		return f, "金额应为元，最多两位小数，例如 2.50"
	}
	switch kind {
	case "fixed":
		f.FixedFen = fen
	case "per_m2":
		f.PerM2Fen = fen
	default:
		return f, "请选择计价方式：固定金额或按面积"
	}
	f, err = bill.NewFeeItem(f, now)
	if err != nil {
		return f, bill.Message(err)
	}
	return f, ""
}

func (h *Handler) saveFeeItem(ctx context.Context, c *call) web.Response {
	cm, resp, ok := h.loadCommunity(ctx, c, c.params["id"])
	if !ok {
		return resp
	}
	form := feeForm{Name: c.form.Get("name"), Kind: c.form.Get("kind"), Amount: c.form.Get("amount"), Cycle: c.form.Get("cycle"),
		Editing: c.form.Get("editing") == "1"}
	f, msg := parseFeeItem(cm, form.Name, form.Kind, form.Amount, form.Cycle, h.now())
	if msg != "" {
		return h.renderFeeItems(ctx, c, cm, form, msg, http.StatusBadRequest)
	}
	if err := h.Store.HouseRepo().PutFeeItem(ctx, f); err != nil {
		return h.internal(ctx, c, "put fee item", err)
	}
	h.audit(ctx, c, "fee_item.put", "fee_item", cm.ID+"/"+f.Name, nil, feeItemJSON(f))
	return c.done(communityPath(cm.ID, "/fee-items"), "fee_item")
}

// ---------------------------------------------------------------- 导入

type importBody struct {
	ID, Community string
	Error         string
	Errors        []importErrorJSON
	ErrorCount    int
	More          int // errors beyond those listed
	Files         []string
	HousesHeader  string
	BillsHeader   string
	MaxMB         int
	Houses, Bills string // links
}

func (h *Handler) importBody(c *call, cm store.Community) importBody {
	return importBody{ID: cm.ID, Community: cm.Name, MaxMB: sheet.MaxBytes / 1_000_000,
		HousesHeader: "楼栋, 单元, 房号, 业主姓名, 手机号, 面积", BillsHeader: "楼栋, 单元, 房号, 收费项目, 账期, 金额, 到期日",
		Houses: withQuery(c, communityPath(cm.ID, "/houses"), nil), Bills: withQuery(c, communityPath(cm.ID, "/bills"), nil)}
}

func (h *Handler) importPage(ctx context.Context, c *call) web.Response {
	cm, resp, ok := h.loadCommunity(ctx, c, c.params["id"])
	if !ok {
		return resp
	}
	return h.render(http.StatusOK, "import.html", h.page(c, cm.Name+" · 导入", h.importBody(c, cm)))
}

// importUpload checks the uploaded files: refused (a row error anywhere),
// the form again with every error listed and nothing written (422); clean,
// it writes for a moment and goes on to the job's page.
func (h *Handler) importUpload(ctx context.Context, c *call) web.Response {
	cm, resp, ok := h.loadCommunity(ctx, c, c.params["id"])
	if !ok {
		return resp
	}
	b := h.importBody(c, cm)
	files, msg := uploadFiles(c)
	if msg != "" {
		b.Error = msg
		return h.render(http.StatusBadRequest, "import.html", h.page(c, cm.Name+" · 导入", b))
	}
	if len(files.Houses) > sheet.MaxBytes || len(files.Bills) > sheet.MaxBytes {
		b.Error = "文件超过 10 MB，请分成几个文件导入"
		return h.render(http.StatusRequestEntityTooLarge, "import.html", h.page(c, cm.Name+" · 导入", b))
	}
	im := h.importer()
	j, err := im.Start(ctx, cm.CompanyID, cm.ID, files, "staff:"+c.p.StaffID)
	if err != nil {
		return h.internal(ctx, c, "import start", err)
	}
	h.audit(ctx, c, "import.start", "import", cm.ID+"/"+j.ID, nil, map[string]any{"files": j.FileNames, "state": j.State, "rows": j.Total, "errors": j.ErrorCount})
	if j.State == bills.JobFailed {
		jj := jobJSON(j)
		b.Error = "文件中有 " + strconv.Itoa(j.ErrorCount) + " 处错误，未导入任何数据。请按下表修改后重新上传。"
		b.Errors, b.ErrorCount, b.More, b.Files = jj.Errors, j.ErrorCount, j.ErrorCount-len(jj.Errors), j.FileNames
		return h.render(http.StatusUnprocessableEntity, "import.html", h.page(c, cm.Name+" · 导入", b))
	}
	if _, err := im.Run(ctx, cm.CompanyID, j.ID, h.now().Add(pageRunBudget)); err != nil {
		return h.internal(ctx, c, "import run", err)
	}
	return web.Redirect(h.jobLink(c, j.ID, true))
}

// stepToken is the ?step= of job jid's page in this session (see above).
func stepToken(c *call, jid string) string {
	m := hmac.New(sha256.New, []byte(c.p.CSRF))
	m.Write([]byte("import-run\x00" + jid))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:18])
}

func (h *Handler) jobLink(c *call, jid string, step bool) string {
	q := url.Values{}
	if step {
		q.Set("step", stepToken(c, jid))
	}
	return withQuery(c, "/admin/imports/"+url.PathEscape(jid), q)
}

type jobBody struct {
	JobJSON
	Community, CommunityLink string
	StateName                string
	Running, Done, Failed    bool
	Continue                 bool // no auto-refresh: offer the 继续 button
	More                     int
	Existing                 int
	HousesLink, BillsLink    string
	ImportMore               string
	Run                      string // the 继续 form's action
}

var jobStateNames = map[bills.JobState]string{bills.JobValidating: "校验中", bills.JobWriting: "正在写入", bills.JobDone: "导入完成", bills.JobFailed: "未导入（文件有错误）"}

func (h *Handler) loadJob(ctx context.Context, c *call) (bills.Job, web.Response, bool) {
	j, err := h.Store.ImportRepo().GetJob(ctx, c.scopeCompany(), c.params["jid"])
	if errors.Is(err, bills.ErrJobNotFound) || (err == nil && !owns(c.p, j.CompanyID)) {
		return j, h.notFound(c), false
	}
	if err != nil {
		return j, h.internal(ctx, c, "import job", err), false
	}
	return j, web.Response{}, true
}

// importJobPage shows job {jid}; a writing job with a valid ?step= writes
// on for pageRunBudget first, and its page refreshes itself with the step.
func (h *Handler) importJobPage(ctx context.Context, c *call) web.Response {
	j, resp, ok := h.loadJob(ctx, c)
	if !ok {
		return resp
	}
	step := c.req.QueryStringParameters["step"]
	stepped := step != "" && hmac.Equal([]byte(step), []byte(stepToken(c, j.ID)))
	if j.State == bills.JobWriting && stepped {
		var err error
		if j, err = h.importer().Run(ctx, j.CompanyID, j.ID, h.now().Add(pageRunBudget)); err != nil {
			return h.internal(ctx, c, "import run", err)
		}
	}
	return h.renderJob(ctx, c, j, stepped)
}

func (h *Handler) renderJob(ctx context.Context, c *call, j bills.Job, stepped bool) web.Response {
	cm, err := h.Store.GetCommunity(ctx, j.CommunityID)
	if err != nil {
		return h.internal(ctx, c, "get community", err)
	}
	jj := jobJSON(j)
	b := jobBody{JobJSON: jj, Community: cm.Name, CommunityLink: withQuery(c, communityPath(cm.ID, ""), nil), StateName: jobStateNames[j.State],
		Running: j.State == bills.JobWriting || j.State == bills.JobValidating, Done: j.State == bills.JobDone, Failed: j.State == bills.JobFailed,
		More: j.ErrorCount - len(jj.Errors), Existing: j.Written - j.Created,
		HousesLink: withQuery(c, communityPath(cm.ID, "/houses"), nil), BillsLink: withQuery(c, communityPath(cm.ID, "/bills"), nil),
		ImportMore: withQuery(c, communityPath(cm.ID, "/imports"), nil), Run: "/admin/imports/" + url.PathEscape(j.ID) + "/run"}
	v := h.page(c, cm.Name+" · 导入进度", b)
	if b.Running {
		if stepped {
			v.Refresh = strconv.Itoa(refreshSeconds) + ";url=" + h.jobLink(c, j.ID, true)
		} else {
			b.Continue = true
			v.Body = b
		}
	}
	return h.render(http.StatusOK, "import_job.html", v)
}

// importRunForm: 继续 (POST, CSRF-checked): write on, then the job's page,
// which follows the job from then on.
func (h *Handler) importRunForm(ctx context.Context, c *call) web.Response {
	j, resp, ok := h.loadJob(ctx, c)
	if !ok {
		return resp
	}
	if _, err := h.importer().Run(ctx, j.CompanyID, j.ID, h.now().Add(pageRunBudget)); err != nil {
		return h.internal(ctx, c, "import run", err)
	}
	return web.Redirect(h.jobLink(c, j.ID, true))
}

// multipartFields reads the plain (non-file) fields of a multipart form: the
// csrf token and the operator's company. File parts are read by
// uploadFiles.
func multipartFields(body []byte, boundary string) (url.Values, error) {
	if boundary == "" {
		return nil, errors.New("no boundary")
	}
	out := url.Values{}
	mr := multipart.NewReader(bytes.NewReader(body), boundary)
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if p.FileName() != "" {
			continue
		}
		v, err := io.ReadAll(io.LimitReader(p, 4<<10))
		if err != nil {
			return nil, err
		}
		out.Add(p.FormName(), string(v))
	}
}
