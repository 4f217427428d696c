package main

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
	actSignedIn        Action = ""                 // any signed-in staff member
)

// can is the console's stand-in for staff.Can until shared/domain/staff is
// on this branch: the lead replaces calls of can(r, a) by staff.Can(r, a)
// (and Action/Role by the staff types) when merging. Company roles act on
// their own company only; the operator acts on every company (tenancy is
// checked by the handlers, not here).
func can(r Role, a Action) bool {
	if a == actSignedIn {
		return r != ""
	}
	switch r {
	case RoleOperator:
		return true
	case RoleAdmin:
		return a != ActCompanyManage
	case RoleCashier:
		return a == ActCommunityView || a == ActRecordsView || a == ActDashboardView
	case RoleManager:
		return a == ActCommunityView || a == ActRecordsView || a == ActDashboardView
	case RoleRiskOfficer:
		return a == ActCommunityView || a == ActRecordsView || a == ActAuditView
	}
	return false
}
