package staff_test

import (
	"testing"

	"github.com/estatepay/estatepay/shared/domain/staff"
)

// The permission matrix, written out whole: every role × every action. A
// change to the table must change this test.
func TestPermissionMatrix(t *testing.T) {
	const (
		P = staff.Platform
		C = staff.Company
		O = staff.Own
		x = staff.None
	)
	columns := []staff.Action{
		staff.CompanyCreate, staff.CompanyEdit, staff.CommunityView, staff.CommunityManage, staff.InterfaceManage,
		staff.CodeManage, staff.CodeDownload, staff.RecordsView, staff.RecordsExport, staff.DashboardView,
		staff.StaffView, staff.StaffManage, staff.AuditView, staff.BillsCollect, staff.BillsReverse, staff.FenfuView, staff.FenfuViewMasked,
		staff.BillsView, staff.BillsImport, staff.NoticesIssue, staff.NoticesPrint, staff.RefundsManage, staff.SettlementView, staff.SettlementHold,
		staff.ReceivableIssue, staff.FenfuApply, staff.FenfuReview,
	}
	want := map[staff.Role][]staff.Scope{
		//                 coCreate coEdit comView comMng ifMng codeMng codeDl recView recExp dash staffView staffMng audit bills reverse fenfu fenfuMasked billsView billsImport ntcIssue ntcPrint refunds stmtView hold receivable fenfuApply fenfuReview
		staff.Operator:    {P, P, P, P, P, P, P, x, x, x, P, P, P, x, x, x, x, x, x, x, x, x, x, x, x, x, P},
		staff.Admin:       {x, C, C, C, C, C, C, C, C, C, C, C, C, C, C, x, C, C, C, C, C, C, C, C, x, C, x},
		staff.Cashier:     {x, x, C, x, x, x, C, C, C, C, x, x, x, C, O, x, C, C, x, C, C, x, x, x, x, x, x},
		staff.Manager:     {x, x, x, x, x, O, O, O, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, O, x, x},
		staff.RiskOfficer: {x, x, C, x, x, x, x, C, C, C, x, x, x, x, x, C, C, x, x, x, x, x, C, C, x, x, x},
	}
	if len(columns) != len(staff.Actions()) {
		t.Fatalf("the matrix has %d columns, there are %d actions", len(columns), len(staff.Actions()))
	}
	for i, a := range staff.Actions() {
		if columns[i] != a {
			t.Fatalf("column %d is %s, action %d is %s", i, columns[i], i, a)
		}
	}
	if len(want) != len(staff.Roles()) {
		t.Fatalf("the matrix has %d rows, there are %d roles", len(want), len(staff.Roles()))
	}
	for _, r := range staff.Roles() {
		row, ok := want[r]
		if !ok || len(row) != len(columns) {
			t.Fatalf("row %s missing or incomplete", r)
		}
		for i, a := range columns {
			if got := staff.ScopeOf(r, a); got != row[i] {
				t.Errorf("ScopeOf(%s, %s) = %q, want %q", r, a, got, row[i])
			}
			if got := staff.Can(r, a); got != (row[i] != x) {
				t.Errorf("Can(%s, %s) = %v", r, a, got)
			}
		}
	}
	// F6: a cashier or admin cannot read full 分付 data — only masked; a
	// risk officer reads it in full.
	for _, r := range []staff.Role{staff.Cashier, staff.Admin} {
		if staff.Can(r, staff.FenfuView) || !staff.Can(r, staff.FenfuViewMasked) {
			t.Errorf("%s: full 分付 data %v, masked %v; want masked only", r, staff.Can(r, staff.FenfuView), staff.Can(r, staff.FenfuViewMasked))
		}
	}
	for _, r := range staff.Roles() {
		if staff.Can(r, staff.FenfuView) != (r == staff.RiskOfficer) {
			t.Errorf("%s reads full 分付 data: %v; only risk officers do", r, staff.Can(r, staff.FenfuView))
		}
	}
	// Unknown roles and actions are allowed nothing.
	if staff.Can("root", staff.StaffManage) || staff.Can(staff.Admin, "everything") || staff.Can("", "") {
		t.Error("an unknown role or action is allowed something")
	}
}

func TestMayCreate(t *testing.T) {
	want := map[staff.Role][]staff.Role{
		staff.Operator: {staff.Operator, staff.Admin},
		staff.Admin:    {staff.Admin, staff.Cashier, staff.Manager, staff.RiskOfficer},
	}
	for _, by := range staff.Roles() {
		for _, r := range staff.Roles() {
			exp := false
			for _, w := range want[by] {
				exp = exp || w == r
			}
			if got := staff.MayCreate(by, r); got != exp {
				t.Errorf("MayCreate(%s, %s) = %v, want %v", by, r, got, exp)
			}
		}
	}
}

func TestRoleLabels(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range staff.Roles() {
		if !r.Valid() || r.Label() == string(r) || seen[r.Label()] {
			t.Errorf("role %s: valid %v label %q", r, r.Valid(), r.Label())
		}
		seen[r.Label()] = true
	}
	if staff.Role("root").Valid() {
		t.Error("root is a role")
	}
}
