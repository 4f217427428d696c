// Package staff holds the staff accounts of the platform and the property
// companies: roles, the permission table (which role may do what, and over
// what scope), and the Staff aggregate (activation, disabling, the one active
// session, the bound WeChat identity). Pure: no I/O, no clock (callers pass
// times).
package staff

// Role is what a staff member is.
type Role string

const (
	// Operator runs the deployment and onboards property companies; belongs
	// to no company.
	Operator Role = "operator"
	// Admin is a property company's administrator (公司管理员).
	Admin Role = "admin"
	// Cashier works at the management office (收银员).
	Cashier Role = "cashier"
	// Manager is a business manager collecting with a personal code (业务经理).
	Manager Role = "manager"
	// RiskOfficer may read full credit-payment (分付) data (风控专员).
	RiskOfficer Role = "risk_officer"
)

// Roles lists every role, in the order people see them.
func Roles() []Role { return []Role{Operator, Admin, Cashier, Manager, RiskOfficer} }

// Valid reports whether r is a known role.
func (r Role) Valid() bool {
	switch r {
	case Operator, Admin, Cashier, Manager, RiskOfficer:
		return true
	}
	return false
}

// Label is the role's Chinese name.
func (r Role) Label() string {
	switch r {
	case Operator:
		return "平台运营"
	case Admin:
		return "公司管理员"
	case Cashier:
		return "收银员"
	case Manager:
		return "业务经理"
	case RiskOfficer:
		return "风控专员"
	}
	return string(r)
}

// Action is something a staff member may be allowed to do.
type Action string

const (
	CompanyCreate   Action = "company.create"   // onboard a property company
	CompanyEdit     Action = "company.edit"     // a company's settings (name, payer fields M5)
	CommunityView   Action = "community.view"   // list and read communities
	CommunityManage Action = "community.manage" // create and edit communities, 微信支付设置
	InterfaceManage Action = "interface.manage" // payment interfaces and their secrets
	CodeManage      Action = "code.manage"      // create, revoke, rotate codes; their payer fields
	CodeDownload    Action = "code.download"    // view, download and print codes (C5)
	RecordsView     Action = "records.view"     // collection records (C7, M6)
	RecordsExport   Action = "records.export"   // CSV export of records
	DashboardView   Action = "dashboard.view"   // collection charts
	StaffView       Action = "staff.view"       // list staff
	StaffManage     Action = "staff.manage"     // create, disable, reset password
	AuditView       Action = "audit.view"       // the audit log
	BillsCollect    Action = "bills.collect"    // mark bills paid at the counter (C8)
	BillsReverse    Action = "bills.reverse"    // reverse a cashier entry with a reason (its bills reopen)
	BillsView       Action = "bills.view"       // houses, fee items and bills of the company's communities, their CSV
	BillsImport     Action = "bills.import"     // import houses and bills, edit fee items (X6)
	FenfuView       Action = "fenfu.view"       // full 分付 data (F6): risk officers only
	NoticesIssue    Action = "notices.issue"    // make payment notices from houses' unpaid bills (C6)
	NoticesPrint    Action = "notices.print"    // list, view and print payment notices (C5, C6)
	RefundsManage   Action = "refunds.manage"   // refund (part of) a payment, reopening its bills (X3)
	SettlementView  Action = "settlement.view"  // the statements and reconciliation exceptions (S1, S2)
	SettlementHold  Action = "settlement.hold"  // hold a payment out of settlement and release it (S3)
	// FenfuViewMasked: 分付 orders and risk records with the payer's
	// openid, name, phone and licence numbers masked (F6; fenfu.Mask*).
	FenfuViewMasked Action = "fenfu.view.masked"
	// ReceivableIssue: 应收款 (issue 11) — find a house of the company, see
	// its unpaid bills and make a one-time code for some of them, collected
	// for oneself (Own: the code and its payment are the caller's).
	ReceivableIssue Action = "receivable.issue"
	// FenfuApply: apply for 分付 (F1) for the company's WeChat Pay
	// interfaces; FenfuReview: approve or reject applications (the platform).
	FenfuApply  Action = "fenfu.apply"
	FenfuReview Action = "fenfu.review"
)

// Actions lists every action.
func Actions() []Action {
	return []Action{CompanyCreate, CompanyEdit, CommunityView, CommunityManage, InterfaceManage, CodeManage, CodeDownload,
		RecordsView, RecordsExport, DashboardView, StaffView, StaffManage, AuditView, BillsCollect, BillsReverse, FenfuView, FenfuViewMasked, BillsView, BillsImport,
		NoticesIssue, NoticesPrint, RefundsManage, SettlementView, SettlementHold, ReceivableIssue,
		FenfuApply, FenfuReview}
}

// Scope is how far a permission reaches.
type Scope string

const (
	None     Scope = ""         // not allowed
	Platform Scope = "platform" // every company
	Company  Scope = "company"  // the caller's company only
	Own      Scope = "own"      // what the caller owns (a manager's own codes and records)
)

// permissions is THE permission table: role × action → scope. Absent means
// not allowed. Decisions:
//   - the operator onboards companies (their settings, communities,
//     interfaces, codes, first admin) and supports them (staff, audit), but
//     reads no payment records, charts or 分付 data: those are the company's;
//   - a company admin does everything within the company except create
//     companies and read full 分付 data;
//   - full 分付 data (F6: 风控部门主管及以上) is read by risk officers only:
//     admins and cashiers see it masked (FenfuViewMasked); the operator
//     and managers not at all;
//   - a cashier sees the company's communities, codes and records, marks
//     bills paid (C8) and makes and prints payment notices, as admins do;
//     a cashier reverses only their own entries (a mistake at the counter,
//     corrected at once, with a reason), an admin any of the company's;
//   - a manager sees only their own codes and records (M3, M6),
//     refreshes only their own codes (M4) and makes 应收款 codes for
//     themselves from the company's houses' unpaid bills (issue 11);
//   - a risk officer reads the company's records, charts and full 分付 data;
//   - only admins refund: money leaving the company's account is an
//     admin's decision, audited (cashiers reverse counter entries instead);
//   - admins and risk officers read the statements and hold payments out of
//     settlement and release them (S3: risk decides what is held); resolving
//     a reconciliation exception is the refunds permission (admins).
var permissions = map[Role]map[Action]Scope{
	Operator: {
		FenfuReview:   Platform, // the reviewer of 分付 applications (F1)
		CompanyCreate: Platform, CompanyEdit: Platform, CommunityView: Platform, CommunityManage: Platform,
		InterfaceManage: Platform, CodeManage: Platform, CodeDownload: Platform,
		StaffView: Platform, StaffManage: Platform, AuditView: Platform,
	},
	Admin: {
		FenfuApply:  Company, // applies for 分付 (F1)
		CompanyEdit: Company, CommunityView: Company, CommunityManage: Company, InterfaceManage: Company,
		CodeManage: Company, CodeDownload: Company, RecordsView: Company, RecordsExport: Company,
		DashboardView: Company, StaffView: Company, StaffManage: Company, AuditView: Company,
		BillsCollect: Company, BillsReverse: Company, FenfuViewMasked: Company, BillsView: Company, BillsImport: Company,
		NoticesIssue: Company, NoticesPrint: Company, RefundsManage: Company, SettlementView: Company, SettlementHold: Company,
	},
	Cashier: {
		CommunityView: Company, CodeDownload: Company, RecordsView: Company, RecordsExport: Company,
		DashboardView: Company, BillsCollect: Company, BillsReverse: Own, BillsView: Company,
		NoticesIssue: Company, NoticesPrint: Company, FenfuViewMasked: Company,
	},
	Manager: {
		CodeManage: Own, CodeDownload: Own, RecordsView: Own, ReceivableIssue: Own,
	},
	RiskOfficer: {
		CommunityView: Company, RecordsView: Company, RecordsExport: Company, DashboardView: Company, FenfuView: Company, FenfuViewMasked: Company,
		SettlementView: Company, SettlementHold: Company,
	},
}

// ScopeOf is how far role r may do a (None: not at all).
func ScopeOf(r Role, a Action) Scope { return permissions[r][a] }

// Can reports whether role r may do a at all (over some scope).
func Can(r Role, a Action) bool { return ScopeOf(r, a) != None }

// MayCreate reports whether a staff member of role creator may create an
// account of role r: operators create operators and company admins (a
// company's first admin, or a new one when the company has lost its own);
// admins create every company role of their own company.
func MayCreate(creator, r Role) bool {
	switch creator {
	case Operator:
		return r == Operator || r == Admin
	case Admin:
		return r == Admin || r == Cashier || r == Manager || r == RiskOfficer
	}
	return false
}
