package main

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/estatepay/estatepay/shared/web"
)

// view is what every console page renders: the page's own data in Body.
type view struct {
	Title     string
	Me        *Principal // nil on the pages before login
	RoleName  string
	Nav       []navLink
	CSRF      string // the session's token, or the ep_pre token before login
	CompanyID string // the operator's company in scope (a hidden form field)
	Notice    string
	Error     string
	Narrow    bool
	Refresh   string // a <meta http-equiv="refresh"> content ("2;url=…"): a page that follows a running job
	Body      any
}

type navLink struct {
	Label, Href string
	On          bool
}

// roleNames are the roles as people read them.
var roleNames = map[Role]string{
	RoleOperator: "平台运营", RoleAdmin: "管理员", RoleCashier: "收银员", RoleManager: "业务经理", RoleRiskOfficer: "风控专员",
}

// notices are the messages a redirect after a successful change may show
// (?done=<key>); nothing from the URL is shown as is.
var notices = map[string]string{
	"saved": "已保存", "created": "已创建", "revoked": "收款码已作废", "rotated": "已换码，旧码已作废",
	"status": "状态已更新", "secret": "密钥已保存", "staff": "员工已添加，设置密码的邮件已发送",
	"reset": "已发送新的设置密码链接", "disabled": "员工已停用", "enabled": "员工已启用", "role": "角色已修改，员工下次登录后生效",
	"fee_item": "收费项目已保存",
	"notice":   "通知单已生成", "notice_exists": "该房屋已有一张包含相同未缴账单的通知单，未重复生成",
}

// page builds the view of a signed-in page.
func (h *Handler) page(c *call, title string, body any) view {
	v := view{Title: title, Body: body, Me: &c.p, RoleName: roleNames[c.p.Role], CSRF: c.p.CSRF}
	if c.p.Role == RoleOperator {
		v.CompanyID = c.scopeCompany()
	}
	v.Notice = notices[c.req.QueryStringParameters["done"]]
	for _, l := range []struct {
		label, href string
		act         Action
		company     bool // needs a company in scope (operator)
	}{
		{"物业公司", "/admin/companies", ActCompanyManage, false},
		{"概览", "/admin/dashboard", ActDashboardView, true},
		{"小区", "/admin/communities", ActCommunityView, true},
		{"收银台", "/admin/cashier", ActBillsCollect, false},
		{"催缴", "/admin/reminders", ActBillsView, false}, // reminders.go
		{"支付接口", "/admin/interfaces", ActInterfaceManage, true},
		{"付款人填写项", "/admin/payer-fields", ActCommunityManage, true},
		{"业务经理收款码", "/admin/managers", ActCommunityManage, true},
		{"员工", "/admin/staff", ActStaffManage, false},
		{"结算对账", "/admin/settlement", ActSettlementView, true},
		{"开票设置", "/admin/invoicing", ActInvoicingManage, true},
		{"分付", "/admin/fenfu", ActFenfuApply, false},
		{"分付审核", "/admin/fenfu-review", ActFenfuReview, false},
		{"分付风控", "/admin/fenfu/risk", ActFenfuViewMasked, true},
		{"操作日志", "/admin/audit", ActAuditView, false},
		{"通知设置", "/admin/notifications", actSignedIn, false},
	} {
		if !can(c.p.Role, l.act) || l.act == actSignedIn && c.p.CompanyID == "" {
			continue
		}
		href := l.href
		if c.p.Role == RoleOperator && l.company {
			if v.CompanyID == "" {
				continue
			}
			href += "?company=" + url.QueryEscape(v.CompanyID)
		}
		on := c.path == l.href || strings.HasPrefix(c.path, l.href+"/") ||
			l.href == "/admin/communities" && (strings.HasPrefix(c.path, "/admin/codes/") || strings.HasPrefix(c.path, "/admin/notices/")) // a code's and a notice's pages are under its community
		v.Nav = append(v.Nav, navLink{Label: l.label, Href: href, On: on})
	}
	return v
}

// scopeCompany is the company a request acts in: the caller's own, or for
// the operator the company named by the query or form field "company".
func (c *call) scopeCompany() string {
	if c.p.Role != RoleOperator {
		return c.p.CompanyID
	}
	if c.form != nil && c.form.Get("company") != "" {
		return c.form.Get("company")
	}
	return c.req.QueryStringParameters["company"]
}

// scopeQuery is "?company=<id>" for the operator (links keep the company in
// scope), "" for company staff.
func (c *call) scopeQuery(sep string) string {
	if c.p.Role != RoleOperator {
		return ""
	}
	if id := c.scopeCompany(); id != "" {
		return sep + "company=" + url.QueryEscape(id)
	}
	return ""
}

// done redirects after a successful change, with a notice.
func (c *call) done(path, notice string) web.Response {
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	return web.Redirect(path + sep + "done=" + notice + c.scopeQuery("&"))
}

type messageBody struct{ Text, Link, LinkText string }

// message renders a page with one message.
func (h *Handler) message(c *call, status int, title, text, link, linkText string) web.Response {
	v := view{Title: title, Body: messageBody{text, link, linkText}, Narrow: true}
	if c.p.StaffID != "" {
		v = h.page(c, title, messageBody{text, link, linkText})
	}
	return h.render(status, "message.html", v)
}

// formError answers a form that cannot be saved: the message, and a link
// back to the form's page (back, with the operator's company kept in scope).
func (h *Handler) formError(c *call, msg, back string) web.Response {
	sep := "?"
	if strings.Contains(back, "?") {
		sep = "&"
	}
	return h.message(c, http.StatusBadRequest, "请检查填写的内容", msg, back+c.scopeQuery(sep), "返回修改")
}
