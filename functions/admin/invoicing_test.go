package main

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/estatepay/estatepay/shared/store"
)

func invoicingForm(version string, mod func(url.Values)) url.Values {
	v := url.Values{"enabled": {"1"}, "seller_name": {"物业A有限公司"}, "seller_tax_no": {"91310000ma1fl0000x"}, "version": {version},
		"default_name": {"物业管理服务"}, "default_code": {"3040502020200000000"}, "default_rate": {"600"},
		"item_0_fee": {"水费"}, "item_0_name": {"水"}, "item_0_code": {"1100301010000000000"}, "item_0_rate": {"300"},
		"item_1_fee": {"停车费"}, "item_1_name": {""}, "item_1_code": {""}, "item_1_rate": {"600"}, // left to the default
	}
	if mod != nil {
		mod(v)
	}
	return v
}

// 开票设置: admins only, each company its own, the values checked (the tax
// code's 19 digits, the rate from the list), versioned, audited.
func TestInvoicingSettingsPage(t *testing.T) {
	f := newFixture(t)
	f.h.Invoices = &store.Invoices{DB: f.st.DB, Table: "InvoicesTable"}
	admin, cashier, adminB := f.login("admin-a"), f.login("cashier-a"), f.login("admin-b")
	if r := f.as(cashier, rq{method: "GET", path: "/admin/invoicing"}); r.StatusCode != http.StatusForbidden {
		t.Errorf("cashier: %d", r.StatusCode)
	}
	if r := f.as(admin, rq{method: "GET", path: "/admin/invoicing"}); r.StatusCode != http.StatusOK || !strings.Contains(r.Body, `name="version" value="0"`) {
		t.Fatalf("page: %d %.300s", r.StatusCode, r.Body)
	}
	bad := f.as(admin, rq{method: "POST", path: "/admin/invoicing", form: invoicingForm("0", func(v url.Values) { v.Set("item_0_code", "110030101000000000") })})
	if bad.StatusCode != http.StatusBadRequest || !strings.Contains(bad.Body, "税收分类编码应为 19 位数字") || !strings.Contains(bad.Body, "110030101000000000") {
		t.Errorf("bad code: %d %.600s", bad.StatusCode, bad.Body)
	}
	if r := f.as(admin, rq{method: "POST", path: "/admin/invoicing", form: invoicingForm("0", func(v url.Values) { v.Set("default_rate", "700") })}); r.StatusCode != http.StatusBadRequest {
		t.Errorf("7%%: %d", r.StatusCode)
	}
	if r := f.as(admin, rq{method: "POST", path: "/admin/invoicing", form: invoicingForm("0", nil)}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("save: %d %.300s", r.StatusCode, r.Body)
	}
	s, err := f.h.Invoices.InvoiceSettings(context.Background(), coA)
	if err != nil || !s.Enabled || s.Version != 1 || s.SellerTaxNo != "91310000MA1FL0000X" || len(s.Items) != 1 || s.For("水费").Rate != 300 || s.For("停车费").Name != "物业管理服务" {
		t.Fatalf("stored: %v %+v", err, s)
	}
	// A save from a stale page is refused, not merged.
	if r := f.as(admin, rq{method: "POST", path: "/admin/invoicing", form: invoicingForm("0", nil)}); r.StatusCode != http.StatusBadRequest || !strings.Contains(r.Body, "已被他人修改") {
		t.Errorf("stale save: %d", r.StatusCode)
	}
	// Company B sees its own (none).
	if r := f.as(adminB, rq{method: "GET", path: "/admin/invoicing"}); !strings.Contains(r.Body, `name="version" value="0"`) || strings.Contains(r.Body, "物业A有限公司") {
		t.Errorf("company B sees A's settings")
	}
	audited := false
	f.acc.mu.Lock()
	for _, r := range f.acc.records {
		audited = audited || r.action == "invoicing.save" && r.id == coA
	}
	f.acc.mu.Unlock()
	if !audited {
		t.Error("the save is not audited")
	}
}
