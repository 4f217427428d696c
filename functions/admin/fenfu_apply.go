package main

import (
	"context"
	"errors"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/fenfu"
	"github.com/estatepay/estatepay/shared/domain/staff"
	"github.com/estatepay/estatepay/shared/store"
	"github.com/estatepay/estatepay/shared/web"
)

// 分付 enablement (F1): a company admin applies for one of the company's
// WeChat Pay interfaces (/admin/fenfu: the form, its status and the check of
// every rule); the platform operator reviews the submitted applications of
// every company (/admin/fenfu-review) and approves — one transaction sets
// the interface's Fenfu, which is all the payment path reads
// (Interface.OffersFenfu) — or rejects with reasons. Every change audited.

const (
	ActFenfuApply  Action = "fenfu.apply"  // apply for 分付 (company admins)
	ActFenfuReview Action = "fenfu.review" // approve or reject applications (the operator)
)

// fenfuNow is the time of the rules (licence expiry, history) and the
// decisions; tests set it.
var fenfuNow = time.Now

func init() {
	staffActions[ActFenfuApply] = staff.FenfuApply
	staffActions[ActFenfuReview] = staff.FenfuReview
	notices["fenfu_submitted"] = "已提交审核"
	notices["fenfu_approved"] = "已批准，该商户已开通分付"
	notices["fenfu_rejected"] = "已驳回，申请人可修改后重新提交"
}

// fenfuFacts finds what the rules need beyond the form: the interface's
// history in our records and the risk list.
func (h *Handler) fenfuFacts(ctx context.Context, ifc store.Interface) (fenfu.Facts, error) {
	f := fenfu.Facts{Now: fenfuNow()}
	var err error
	if f.FirstPaidAt, f.MonthlyOrders, err = h.Store.WeChatHistory(ctx, ifc, f.Now); err != nil {
		return f, err
	}
	f.RiskListed, err = h.Store.FenfuRiskListed(ctx, ifc.PaymentMerchant())
	return f, err
}

// loadWeChatIface is an interface of the caller's company that can offer
// 分付 (WeChat Pay); 404 otherwise.
func (h *Handler) loadWeChatIface(ctx context.Context, c *call) (store.Interface, web.Response, bool) {
	ifc, resp, ok := h.loadInterface(ctx, c, c.params["iid"])
	if ok && ifc.Channel != domain.WeChat {
		return ifc, h.notFound(c), false
	}
	return ifc, resp, ok
}

func fenfuClass(s fenfu.Status) string {
	switch s {
	case fenfu.Approved:
		return "ok"
	case fenfu.Submitted, fenfu.Draft:
		return "warn"
	case fenfu.Rejected:
		return "bad"
	}
	return ""
}

func industryLabel(i fenfu.Industry) string {
	if r, ok := fenfu.RuleOf(i); ok {
		return r.Label
	}
	return "未选择"
}

// ---------------------------------------------------------------- the merchant

type fenfuIfaceRow struct {
	ID, Merchant, Status, StatusClass string
	Enabled                           bool
}

func (h *Handler) fenfuList(ctx context.Context, c *call) web.Response {
	co, resp, ok := h.scope(ctx, c)
	if !ok {
		return resp
	}
	is, err := h.Store.ListInterfaces(ctx, co.ID)
	if err != nil {
		return h.internal(ctx, c, "list interfaces", err)
	}
	sort.Slice(is, func(a, b int) bool { return is[a].ID < is[b].ID })
	var rows []fenfuIfaceRow
	for _, i := range is {
		if i.Channel != domain.WeChat {
			continue
		}
		row := fenfuIfaceRow{ID: i.ID, Merchant: i.PaymentMerchant(), Status: "未申请", Enabled: i.OffersFenfu()}
		a, _, err := h.Store.GetFenfuApplication(ctx, i.ID)
		switch {
		case err == nil:
			row.Status, row.StatusClass = a.Status.Label(), fenfuClass(a.Status)
		case !errors.Is(err, store.ErrNotFound):
			return h.internal(ctx, c, "get fenfu application", err)
		}
		rows = append(rows, row)
	}
	return h.render(http.StatusOK, "fenfu_list.html", h.page(c, "分付", struct {
		Ifaces     []fenfuIfaceRow
		Industries []fenfuIndustryRow
	}{rows, industryRows("")}))
}

type fenfuIndustryRow struct {
	Value, Label, Needs, Deposit string
	Selected                     bool
}

// industryRows is the industry table as people read it.
func industryRows(sel fenfu.Industry) []fenfuIndustryRow {
	var rows []fenfuIndustryRow
	for _, r := range fenfu.Industries {
		var needs []string
		if r.NeedICP {
			needs = append(needs, "ICP 备案")
		}
		if r.MinMonthlyOrders > 0 {
			needs = append(needs, "月均交易 "+strconv.Itoa(r.MinMonthlyOrders)+" 笔以上")
		}
		if r.NeedFoodLicence {
			needs = append(needs, "食品经营许可证")
		}
		if r.NeedStore {
			needs = append(needs, "线下实体门店")
		}
		if r.NeedTradeLicence {
			needs = append(needs, "对应行业经营许可证照")
		}
		rows = append(rows, fenfuIndustryRow{Value: string(r.Industry), Label: r.Label, Needs: strings.Join(needs, " + "),
			Deposit: fenfu.Yuan(r.DepositFen), Selected: r.Industry == sel})
	}
	return rows
}

type fenfuCheckRow struct {
	OK, Attested bool
	Message      string
}

func checkRows(cs []fenfu.Check) []fenfuCheckRow {
	rows := make([]fenfuCheckRow, 0, len(cs))
	for _, c := range cs {
		rows = append(rows, fenfuCheckRow{c.OK, c.Attested, c.Message})
	}
	return rows
}

// fenfuBody is the application page, the merchant's and the reviewer's.
type fenfuBody struct {
	IfaceID, Merchant, Company string
	App                        fenfu.Application
	StatusText, StatusClass    string
	IndustryText               string
	Editable, Enabled          bool
	Industries                 []fenfuIndustryRow
	Checks                     []fenfuCheckRow
	ChecksNote                 string
	Passed                     bool
	Review                     bool // the reviewer's page
	Monthly, Deposit           string
}

func (h *Handler) fenfuBodyOf(ctx context.Context, ifc store.Interface, a fenfu.Application, review bool) (fenfuBody, error) {
	b := fenfuBody{IfaceID: ifc.ID, Merchant: ifc.PaymentMerchant(), App: a, StatusText: a.Status.Label(), StatusClass: fenfuClass(a.Status),
		IndustryText: industryLabel(a.Industry), Editable: !review && a.Editable(), Enabled: ifc.OffersFenfu(), Industries: industryRows(a.Industry), Review: review}
	if a.Status == "" {
		b.StatusText = "未申请"
	}
	b.Deposit = fenfu.Yuan(a.DepositFen)
	if a.AttestedMonthlyOrders > 0 {
		b.Monthly = strconv.Itoa(a.AttestedMonthlyOrders)
	}
	// The reviewer and a merchant still filling in see the rules as they
	// stand now; a submitted or decided application shows its own check.
	if review || a.Editable() {
		f, err := h.fenfuFacts(ctx, ifc)
		if err != nil {
			return b, err
		}
		cs := fenfu.Evaluate(a, f)
		b.Checks, b.Passed = checkRows(cs), fenfu.Passed(cs)
		b.ChecksNote = "按当前资料与记录检查（" + fenfuNowText(f.Now) + "）"
	} else {
		b.Checks, b.Passed = checkRows(a.Checks), fenfu.Passed(a.Checks)
		b.ChecksNote = "提交时的检查（" + fenfuNowText(a.SubmittedAt) + "）"
		if a.Status == fenfu.Approved {
			b.ChecksNote = "批准时的检查（" + fenfuNowText(a.DecidedAt) + "）"
		}
	}
	return b, nil
}

func fenfuNowText(t time.Time) string {
	return t.In(time.FixedZone("Asia/Shanghai", 8*3600)).Format("2006-01-02 15:04")
}

func (h *Handler) fenfuPage(ctx context.Context, c *call) web.Response {
	ifc, resp, ok := h.loadWeChatIface(ctx, c)
	if !ok {
		return resp
	}
	a, _, err := h.Store.GetFenfuApplication(ctx, ifc.ID)
	if errors.Is(err, store.ErrNotFound) {
		a, err = fenfu.Application{ID: ifc.ID, CompanyID: ifc.CompanyID, MerchantID: ifc.PaymentMerchant()}, nil
	}
	if err != nil {
		return h.internal(ctx, c, "get fenfu application", err)
	}
	b, err := h.fenfuBodyOf(ctx, ifc, a, false)
	if err != nil {
		return h.internal(ctx, c, "fenfu facts", err)
	}
	return h.render(http.StatusOK, "fenfu_apply.html", h.page(c, "分付开通申请", b))
}

// fenfuFormFields are the form's text fields, their limits (characters) and labels.
var fenfuFormFields = []struct {
	name, label string
	max         int
	get         func(*fenfu.Application) *string
}{
	{"licence_no", "营业执照统一社会信用代码", 18, func(a *fenfu.Application) *string { return &a.LicenceNo }},
	{"licence_expiry", "营业执照有效期", 10, func(a *fenfu.Application) *string { return &a.LicenceExpiry }},
	{"icp_filing", "ICP 备案号", 64, func(a *fenfu.Application) *string { return &a.ICPFiling }},
	{"food_licence_no", "食品经营许可证编号", 64, func(a *fenfu.Application) *string { return &a.FoodLicenceNo }},
	{"store_address", "门店地址", 200, func(a *fenfu.Application) *string { return &a.StoreAddress }},
	{"trade_licence", "行业经营许可证照", 200, func(a *fenfu.Application) *string { return &a.TradeLicence }},
	{"history_evidence", "交易记录证明", 1000, func(a *fenfu.Application) *string { return &a.HistoryEvidence }},
}

// readFenfuForm applies the form to a; a message for people when it cannot.
func readFenfuForm(c *call, a *fenfu.Application) string {
	ind := fenfu.Industry(c.form.Get("industry"))
	r, ok := fenfu.RuleOf(ind)
	if !ok && ind != "" {
		return "请选择行业类别"
	}
	a.Industry = ind
	for _, f := range fenfuFormFields {
		v := strings.TrimSpace(c.form.Get(f.name))
		if utf8.RuneCountInString(v) > f.max {
			return f.label + "最多 " + strconv.Itoa(f.max) + " 个字"
		}
		*f.get(a) = v
	}
	a.LicenceNo = strings.ToUpper(a.LicenceNo)
	a.AttestedMonthlyOrders = 0
	if s := strings.TrimSpace(c.form.Get("attested_monthly_orders")); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > 10_000_000 {
			return "证明的月均交易笔数应为非负整数"
		}
		a.AttestedMonthlyOrders = n
	}
	a.DepositAck, a.DepositFen = c.form.Get("deposit_ack") == "1" && ok, 0
	if a.DepositAck {
		a.DepositFen = r.DepositFen
	}
	return ""
}

func (h *Handler) fenfuSave(ctx context.Context, c *call) web.Response {
	ifc, resp, ok := h.loadWeChatIface(ctx, c)
	if !ok {
		return resp
	}
	back := "/admin/fenfu/" + ifc.ID
	a, ver, err := h.Store.GetFenfuApplication(ctx, ifc.ID)
	if errors.Is(err, store.ErrNotFound) {
		a, ver, err = fenfu.Application{ID: ifc.ID, CompanyID: ifc.CompanyID, Status: fenfu.Draft}, 0, nil
	}
	if err != nil {
		return h.internal(ctx, c, "get fenfu application", err)
	}
	if !a.Editable() {
		return h.message(c, http.StatusConflict, "不能修改", "申请"+a.Status.Label()+"，不能修改。", back+c.scopeQuery("?"), "返回")
	}
	before := a
	a.MerchantID = ifc.PaymentMerchant()
	if msg := readFenfuForm(c, &a); msg != "" {
		return h.formError(c, msg, back)
	}
	action, notice := "fenfu.save", "saved"
	if c.form.Get("op") == "submit" {
		f, err := h.fenfuFacts(ctx, ifc)
		if err != nil {
			return h.internal(ctx, c, "fenfu facts", err)
		}
		if err := a.Submit(f, c.p.StaffID); errors.Is(err, fenfu.ErrIncomplete) {
			return h.formError(c, "提交前请选择行业类别，并确认缴纳该行业的风险保证金", back)
		} else if err != nil {
			return h.internal(ctx, c, "submit fenfu", err)
		}
		action, notice = "fenfu.submit", "fenfu_submitted"
	} else if a.Status == "" {
		a.Status = fenfu.Draft
	}
	if _, err := h.Store.SaveFenfuApplication(ctx, a, ver); errors.Is(err, store.ErrConflict) {
		return h.message(c, http.StatusConflict, "申请已被修改", "申请刚被其他人修改或审核，请刷新后重试。", back+c.scopeQuery("?"), "返回")
	} else if err != nil {
		return h.internal(ctx, c, "save fenfu application", err)
	}
	h.audit(ctx, c, action, "fenfu_application", a.ID, before, a)
	return c.done(back, notice)
}

// ---------------------------------------------------------------- the reviewer

type fenfuQueueRow struct {
	ID, Company, Merchant, Industry, Deposit, SubmittedAt, Status, StatusClass string
	Attempts                                                                   int
}

var fenfuReviewTabs = []fenfu.Status{fenfu.Submitted, fenfu.Approved, fenfu.Rejected}

func (h *Handler) fenfuQueue(ctx context.Context, c *call) web.Response {
	st := fenfu.Status(c.req.QueryStringParameters["status"])
	if st == "" {
		st = fenfu.Submitted
	}
	valid := false
	for _, s := range fenfuReviewTabs {
		valid = valid || s == st
	}
	if !valid {
		return h.notFound(c)
	}
	apps, err := h.Store.ListFenfuApplications(ctx, st)
	if err != nil {
		return h.internal(ctx, c, "list fenfu applications", err)
	}
	names := map[string]string{}
	rows := make([]fenfuQueueRow, 0, len(apps))
	for _, a := range apps {
		if _, ok := names[a.CompanyID]; !ok {
			co, err := h.Store.GetCompany(ctx, a.CompanyID)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return h.internal(ctx, c, "get company", err)
			}
			names[a.CompanyID] = co.Name
		}
		rows = append(rows, fenfuQueueRow{ID: a.ID, Company: names[a.CompanyID], Merchant: a.MerchantID, Industry: industryLabel(a.Industry),
			Deposit: fenfu.Yuan(a.DepositFen), SubmittedAt: fenfuNowText(a.SubmittedAt), Status: a.Status.Label(), StatusClass: fenfuClass(a.Status), Attempts: a.Attempts})
	}
	var tabs []navLink
	for _, s := range fenfuReviewTabs {
		tabs = append(tabs, navLink{Label: s.Label(), Href: "/admin/fenfu-review?status=" + string(s), On: s == st})
	}
	return h.render(http.StatusOK, "fenfu_queue.html", h.page(c, "分付审核", struct {
		Tabs []navLink
		Rows []fenfuQueueRow
	}{tabs, rows}))
}

// loadFenfuReview is an application and its interface, for the reviewer.
func (h *Handler) loadFenfuReview(ctx context.Context, c *call) (fenfu.Application, int64, store.Interface, web.Response, bool) {
	id := c.params["iid"]
	a, ver, err := h.Store.GetFenfuApplication(ctx, id)
	if errors.Is(err, store.ErrNotFound) || err == nil && a.Status == fenfu.Draft {
		return a, 0, store.Interface{}, h.notFound(c), false // a draft is the merchant's own
	}
	if err != nil {
		return a, 0, store.Interface{}, h.internal(ctx, c, "get fenfu application", err), false
	}
	ifc, err := h.Store.GetInterface(ctx, id)
	if errors.Is(err, store.ErrNotFound) || err == nil && (ifc.CompanyID != a.CompanyID || ifc.Channel != domain.WeChat) {
		return a, 0, ifc, h.notFound(c), false
	}
	if err != nil {
		return a, 0, ifc, h.internal(ctx, c, "get interface", err), false
	}
	return a, ver, ifc, web.Response{}, true
}

func (h *Handler) fenfuReviewPage(ctx context.Context, c *call) web.Response {
	a, _, ifc, resp, ok := h.loadFenfuReview(ctx, c)
	if !ok {
		return resp
	}
	b, err := h.fenfuBodyOf(ctx, ifc, a, true)
	if err != nil {
		return h.internal(ctx, c, "fenfu facts", err)
	}
	if co, err := h.Store.GetCompany(ctx, a.CompanyID); err == nil {
		b.Company = co.Name
	}
	return h.render(http.StatusOK, "fenfu_apply.html", h.page(c, "分付审核", b))
}

func (h *Handler) fenfuApprove(ctx context.Context, c *call) web.Response {
	a, ver, ifc, resp, ok := h.loadFenfuReview(ctx, c)
	if !ok {
		return resp
	}
	back := "/admin/fenfu-review/" + a.ID
	before := a
	f, err := h.fenfuFacts(ctx, ifc)
	if err != nil {
		return h.internal(ctx, c, "fenfu facts", err)
	}
	switch err := a.Approve(f, c.p.StaffID); {
	case errors.Is(err, fenfu.ErrState):
		return h.message(c, http.StatusConflict, "不能批准", "申请"+a.Status.Label()+"，不在待审核状态。", back, "返回")
	case errors.Is(err, fenfu.ErrChecks):
		var failed []string
		for _, ch := range a.Checks {
			if !ch.OK {
				failed = append(failed, ch.Message)
			}
		}
		return h.message(c, http.StatusConflict, "不能批准", "未满足开通条件："+strings.Join(failed, "；")+"。请驳回并写明原因。", back, "返回")
	case err != nil:
		return h.internal(ctx, c, "approve fenfu", err)
	}
	ifBefore, ifAfter, err := h.Store.ApproveFenfu(ctx, a, ver)
	if errors.Is(err, store.ErrConflict) {
		return h.message(c, http.StatusConflict, "申请已被修改", "申请或支付接口刚被修改，请刷新后重试。", back, "返回")
	}
	if err != nil {
		return h.internal(ctx, c, "approve fenfu", err)
	}
	h.audit(ctx, c, "fenfu.approve", "fenfu_application", a.ID, before, a)
	h.audit(ctx, c, "interface.fenfu", "interface", ifc.ID, ifBefore, ifAfter)
	return web.Redirect(back + "?done=fenfu_approved")
}

func (h *Handler) fenfuReject(ctx context.Context, c *call) web.Response {
	a, ver, _, resp, ok := h.loadFenfuReview(ctx, c)
	if !ok {
		return resp
	}
	back := "/admin/fenfu-review/" + a.ID
	text := c.form.Get("reasons")
	if utf8.RuneCountInString(text) > 1000 {
		return h.message(c, http.StatusBadRequest, "请检查填写的内容", "驳回原因最多 1000 个字", back, "返回修改")
	}
	before := a
	switch err := a.Reject(strings.Split(text, "\n"), c.p.StaffID, fenfuNow()); {
	case errors.Is(err, fenfu.ErrNoReasons):
		return h.message(c, http.StatusBadRequest, "请检查填写的内容", "请写明驳回原因（每行一条）", back, "返回修改")
	case errors.Is(err, fenfu.ErrState):
		return h.message(c, http.StatusConflict, "不能驳回", "申请"+a.Status.Label()+"，不在待审核状态。", back, "返回")
	case err != nil:
		return h.internal(ctx, c, "reject fenfu", err)
	}
	if _, err := h.Store.SaveFenfuApplication(ctx, a, ver); errors.Is(err, store.ErrConflict) {
		return h.message(c, http.StatusConflict, "申请已被修改", "申请刚被修改或审核，请刷新后重试。", back, "返回")
	} else if err != nil {
		return h.internal(ctx, c, "reject fenfu", err)
	}
	h.audit(ctx, c, "fenfu.reject", "fenfu_application", a.ID, before, a)
	return web.Redirect(back + "?done=fenfu_rejected")
}
