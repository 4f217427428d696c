package main

import "github.com/estatepay/estatepay/shared/domain/staff"

// Action is something a route does (staff.Action). The names follow the
// issue's examples ("community.manage", "records.view", "staff.manage").
type Action string

const (
	ActCompanyManage   Action = "company.manage"   // create and edit property companies (operator)
	ActCommunityView   Action = "community.view"   // see communities and their codes
	ActCommunityManage Action = "community.manage" // create/edit communities, 微信支付设置, codes, payer fields
	ActInterfaceManage Action = "interface.manage" // payment interfaces, their status and secrets
	ActRecordsView     Action = "records.view"     // collection records and CSV (C7)
	ActDashboardView   Action = "dashboard.view"   // the dashboard
	ActStaffManage     Action = "staff.manage"     // create, disable, reset staff
	ActAuditView       Action = "audit.view"       // the audit log
	ActBillsCollect    Action = "bills.collect"    // the cashier desk (C8); reversing also checks staff.BillsReverse's scope
	ActBillsView       Action = "bills.view"       // houses, fee items, bills, their CSV
	ActBillsImport     Action = "bills.import"     // import houses and bills, edit fee items
	ActNoticesIssue    Action = "notices.issue"    // make payment notices
	ActNoticesPrint    Action = "notices.print"    // list, view and print payment notices
	ActRefundsManage   Action = "refunds.manage"   // refund a payment (admins)
	// ActSettlementManage: statements and reconciliation exceptions (admins:
	// the refunds permission, money out of the company's accounts).
	ActSettlementManage Action = "settlement.manage"
	// The managers' app (/m/api, mobile_api.go): what the caller owns,
	// allowed only at Own scope (a business manager's own codes and
	// records); company-wide roles use the console instead.
	ActOwnCodes   Action = "codes.own"   // one's own codes: show, refresh (staff.CodeManage)
	ActOwnRecords Action = "records.own" // one's own collection records (staff.RecordsView)
	// ActOwnReceivables: 应收款, a one-time code for chosen unpaid bills of a
	// house, collected for oneself (staff.ReceivableIssue).
	ActOwnReceivables Action = "receivables.own"
	actSignedIn       Action = "" // any signed-in staff member
)

// ownActions are the route actions allowed at Own scope only.
var ownActions = map[Action]bool{ActOwnCodes: true, ActOwnRecords: true, ActOwnReceivables: true}

// staffActions maps the console's route actions to the domain's permission
// table (shared/domain/staff): one table decides, the console only names
// which entry a route needs.
var staffActions = map[Action]staff.Action{
	ActCompanyManage:    staff.CompanyCreate,
	ActCommunityView:    staff.CommunityView,
	ActCommunityManage:  staff.CommunityManage,
	ActInterfaceManage:  staff.InterfaceManage,
	ActRecordsView:      staff.RecordsView,
	ActDashboardView:    staff.DashboardView,
	ActStaffManage:      staff.StaffManage,
	ActAuditView:        staff.AuditView,
	ActBillsCollect:     staff.BillsCollect,
	ActBillsView:        staff.BillsView,
	ActBillsImport:      staff.BillsImport,
	ActNoticesIssue:     staff.NoticesIssue,
	ActNoticesPrint:     staff.NoticesPrint,
	ActRefundsManage:    staff.RefundsManage,
	ActSettlementManage: staff.RefundsManage,
	ActOwnCodes:         staff.CodeManage,
	ActOwnRecords:       staff.RecordsView,
	ActOwnReceivables:   staff.ReceivableIssue,
}

// can reports whether role r may do the route action a (tenancy is checked
// by the handlers: company roles act on their own company only). Every
// console route acts on a whole company (its communities, their records,
// …), so a permission scoped to what the caller owns (a business manager's
// own codes and records, staff.Own) does not open them: that data has its
// own routes (the managers' app).
func can(r Role, a Action) bool {
	if a == actSignedIn {
		return r != ""
	}
	sa, ok := staffActions[a]
	if !ok {
		return false
	}
	sc := staff.ScopeOf(r, sa)
	if ownActions[a] {
		return sc == staff.Own
	}
	return sc == staff.Company || sc == staff.Platform
}
