package main

import (
	"context"
	"net/http"
	"net/mail"
	"sort"
	"strings"

	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/web"
	"github.com/estatepay/estatepay/shared/web/console"
)

type staffRow struct {
	ID, Name, Phone, Email, Status, StatusText, StatusClass, Role, RoleName, Created string
	Self                                                                             bool
	// Roles the caller may give this account (role change), current first.
	Roles []struct{ Value, Label string }
}

var staffStatus = map[string][2]string{
	"pending": {"待设置密码", "warn"}, "active": {"正常", "ok"}, "disabled": {"已停用", "bad"},
}

// creatableRoles are the roles a creator may give (staff.MayCreate), the
// form's default first: the operator creates a company's admins (the
// company's admins create the rest), a company admin the roles of their
// company (usually a cashier or manager: the least power is the default,
// admin is chosen on purpose); nobody creates an operator here.
func creatableRoles(r Role) []Role {
	switch r {
	case RoleOperator:
		return []Role{RoleAdmin}
	case RoleAdmin:
		return []Role{RoleCashier, RoleManager, RoleRiskOfficer, RoleAdmin}
	}
	return nil
}

func (h *Handler) staffPage(ctx context.Context, c *call) web.Response {
	list, err := h.Accounts.ListStaff(ctx, c.p)
	if err != nil {
		return h.accountsError(ctx, c, "list staff", err)
	}
	sort.SliceStable(list, func(i, j int) bool { return list[i].CreatedAt.Before(list[j].CreatedAt) })
	rows := make([]staffRow, 0, len(list))
	scope := c.scopeCompany()
	for _, s := range list {
		if c.p.Role == RoleOperator && scope != "" && s.CompanyID != scope {
			continue
		}
		st := staffStatus[s.Status]
		row := staffRow{ID: s.ID, Name: s.Name, Phone: s.Phone, Email: s.Email, Status: s.Status, StatusText: st[0], StatusClass: st[1],
			Role: string(s.Role), RoleName: roleNames[s.Role], Created: console.When(s.CreatedAt), Self: s.ID == c.p.StaffID}
		if s.Role != RoleOperator && !row.Self {
			row.Roles = append(row.Roles, struct{ Value, Label string }{string(s.Role), roleNames[s.Role]})
			for _, r := range creatableRoles(c.p.Role) {
				if r != s.Role {
					row.Roles = append(row.Roles, struct{ Value, Label string }{string(r), roleNames[r]})
				}
			}
		}
		rows = append(rows, row)
	}
	body := struct {
		Staff     []staffRow
		Roles     []struct{ Value, Label string }
		Companies []option
	}{Staff: rows}
	for _, r := range creatableRoles(c.p.Role) {
		body.Roles = append(body.Roles, struct{ Value, Label string }{string(r), roleNames[r]})
	}
	if c.p.Role == RoleOperator {
		cos, err := h.Store.ListCompanies(ctx)
		if err != nil {
			return h.internal(ctx, c, "list companies", err)
		}
		sort.Slice(cos, func(i, j int) bool { return cos[i].Name < cos[j].Name })
		for _, co := range cos {
			body.Companies = append(body.Companies, option{ID: co.ID, Label: co.Name, Selected: co.ID == scope})
		}
	}
	return h.render(http.StatusOK, "staff.html", h.page(c, "员工", body))
}

// accountsError answers an error of the accounts service.
func (h *Handler) accountsError(ctx context.Context, c *call, what string, err error) web.Response {
	code, status, msg := errorInfo(err)
	if status == http.StatusInternalServerError {
		return h.internal(ctx, c, what, err)
	}
	if status == http.StatusNotFound {
		return h.notFound(c)
	}
	return h.fail(c, status, code, msg)
}

func (h *Handler) createStaff(ctx context.Context, c *call) web.Response {
	in := NewStaff{CompanyID: c.p.CompanyID, Role: Role(c.form.Get("role")), Email: strings.TrimSpace(c.form.Get("email")),
		Phone: strings.TrimSpace(c.form.Get("phone"))}
	if c.p.Role == RoleOperator {
		in.CompanyID = c.form.Get("staff_company")
		if _, resp, ok := h.loadCompany(ctx, c, in.CompanyID); !ok {
			return resp
		}
	}
	name, ok := cleanName(c.form.Get("name"))
	allowed := false
	for _, r := range creatableRoles(c.p.Role) {
		allowed = allowed || r == in.Role
	}
	addr, mailErr := mail.ParseAddress(in.Email)
	switch {
	case !ok || len([]rune(name)) > 20:
		return h.formError(c, "姓名须为 1-20 个字", "/admin/staff")
	case !domain.IsDigits(strings.TrimPrefix(in.Phone, "+"), 6, 15):
		return h.formError(c, "请填写正确的手机号", "/admin/staff")
	case mailErr != nil || addr.Address != in.Email:
		return h.formError(c, "请填写正确的邮箱", "/admin/staff")
	case !allowed:
		return h.formError(c, "请选择角色", "/admin/staff")
	}
	in.Name = name
	if _, err := h.Accounts.CreateStaff(ctx, c.p, in); err != nil {
		return h.accountsError(ctx, c, "create staff", err)
	}
	return c.done("/admin/staff", "staff")
}

func (h *Handler) disableStaff(ctx context.Context, c *call) web.Response {
	if c.params["sid"] == c.p.StaffID {
		return h.formError(c, "不能停用自己的账号", "/admin/staff")
	}
	if err := h.Accounts.DisableStaff(ctx, c.p, c.params["sid"]); err != nil {
		return h.accountsError(ctx, c, "disable staff", err)
	}
	return c.done("/admin/staff", "disabled")
}

func (h *Handler) enableStaff(ctx context.Context, c *call) web.Response {
	if err := h.Accounts.EnableStaff(ctx, c.p, c.params["sid"]); err != nil {
		return h.accountsError(ctx, c, "enable staff", err)
	}
	return c.done("/admin/staff", "enabled")
}

func (h *Handler) changeRole(ctx context.Context, c *call) web.Response {
	if c.params["sid"] == c.p.StaffID {
		return h.formError(c, "不能修改自己的角色", "/admin/staff")
	}
	// The service checks the account first (another company's: 404), then
	// that the role is one the caller gives.
	if err := h.Accounts.ChangeRole(ctx, c.p, c.params["sid"], Role(strings.TrimSpace(c.form.Get("role")))); err != nil {
		return h.accountsError(ctx, c, "change role", err)
	}
	return c.done("/admin/staff", "role")
}

func (h *Handler) resetStaff(ctx context.Context, c *call) web.Response {
	if err := h.Accounts.ResetPassword(ctx, c.p, c.params["sid"]); err != nil {
		return h.accountsError(ctx, c, "reset password", err)
	}
	return c.done("/admin/staff", "reset")
}

type auditRow struct{ At, Actor, Role, Action, Target, Before, After string }

// actionNames are the audited actions as people read them.
var actionNames = map[string]string{
	"company.create": "新建公司", "company.update": "修改公司", "company.alipay_interface": "设置公司支付宝接口",
	"community.create": "新建小区", "community.update": "修改小区", "community.wechat": "微信支付设置",
	"code.create": "新建收款码", "code.revoke": "作废收款码", "code.rotate": "换码", "code.dynamic_only": "设置仅动态码",
	"payer_fields.update": "修改付款人填写项", "interface.create": "新建支付接口", "interface.update": "修改支付接口",
	"interface.status": "更新接口状态", "interface.secret": "录入密钥",
}

func (h *Handler) auditPage(ctx context.Context, c *call) web.Response {
	pg, err := h.Accounts.Audit(ctx, c.p, c.req.QueryStringParameters["cursor"], 50)
	if err != nil {
		return h.accountsError(ctx, c, "audit", err)
	}
	rows := make([]auditRow, 0, len(pg.Entries))
	for _, e := range pg.Entries {
		a := actionNames[e.Action]
		if a == "" {
			a = e.Action
		}
		rows = append(rows, auditRow{At: console.When(e.At), Actor: e.ActorID, Role: roleNames[e.ActorRole], Action: a,
			Target: e.TargetKind + "/" + e.TargetID, Before: clip(string(e.Before)), After: clip(string(e.After))})
	}
	body := struct {
		Entries   []auditRow
		Next, Amp string
	}{rows, pg.Next, c.scopeQuery("&")}
	return h.render(http.StatusOK, "audit.html", h.page(c, "操作日志", body))
}

func clip(s string) string {
	if s == "null" {
		return ""
	}
	if r := []rune(s); len(r) > 300 {
		return string(r[:300]) + "…"
	}
	return s
}
