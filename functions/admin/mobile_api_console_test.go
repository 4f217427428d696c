package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"image/png"
	"net/url"
	"strings"
	"testing"

	"github.com/estatepay/estatepay/infra/qrscan"
	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/store"
)

// Admins configure a manager's extra codes in the console (切换, M4): add
// with presets (checked against the payer fields), edit, revoke; the
// manager's app lists them; the code plate (码牌) prints the current code;
// another company's manager is 404.
func TestConsoleManagerCodes(t *testing.T) {
	f := newMapiFixture(t)
	ctx := context.Background()
	fields := domain.PayerFields{{Key: "company", Label: "公司名称", Type: domain.FieldText, Required: true}, {Key: "contract", Label: "合同编号", Type: domain.FieldNumber, Required: true}}
	if _, _, err := f.st.UpdateCompany(ctx, coA, func(c *store.Company) error { c.PayerFields = fields; return nil }); err != nil {
		t.Fatal(err)
	}
	admin := f.login("admin-a")
	page := f.as(admin, get("/admin/managers"))
	if page.StatusCode != 200 || !strings.Contains(page.Body, "员工manager-a") || !strings.Contains(page.Body, "尚未领取收款码") || strings.Contains(page.Body, "员工cashier-a") ||
		strings.Contains(page.Body, "员工manager-b") {
		t.Fatalf("managers page: %d %s", page.StatusCode, page.Body)
	}
	// A preset that breaks the field's rules is refused, nothing stored.
	r := f.as(admin, post("/admin/managers/manager-a/codes", "name", "甲公司", "p_company", "甲公司", "p_contract", "ABC"))
	if r.StatusCode != 400 || !strings.Contains(r.Body, "合同编号只能填写数字") {
		t.Fatalf("bad preset: %d %s", r.StatusCode, r.Body)
	}
	r = f.as(admin, post("/admin/managers/manager-a/codes", "name", "甲公司", "p_company", "甲公司", "p_contract", ""))
	if r.StatusCode != 302 {
		t.Fatalf("add: %d %s", r.StatusCode, r.Body)
	}
	set, err := f.st.GetManagerCodes(ctx, "manager-a")
	if err != nil || len(set.Extras) != 1 || set.Extras[0].Preset["company"] != "甲公司" || len(set.Extras[0].Preset) != 1 {
		t.Fatalf("stored: %+v %v", set, err)
	}
	x := set.Extras[0]
	// The manager sees it after a refresh of the list (GET /m/api/codes).
	m := f.login("manager-a")
	var list struct{ Codes []MobileCode }
	f.api(m, "GET", "/m/api/codes", "", &list)
	if len(list.Codes) != 2 || list.Codes[1].ID != x.ID || list.Codes[1].Preset["company"] != "甲公司" {
		t.Fatalf("the manager's list: %+v", list.Codes)
	}
	// Edit: renamed, contract preset too; the token stays.
	if r := f.as(admin, post("/admin/managers/manager-a/codes/"+x.ID+"/edit", "name", "甲公司（年费）", "p_company", "甲公司", "p_contract", "2026001")); r.StatusCode != 302 {
		t.Fatalf("edit: %d %s", r.StatusCode, r.Body)
	}
	col, err := f.st.LoadCollection(ctx, x.Token)
	if err != nil || col.Code.Name != "甲公司（年费）" || col.Code.Preset["contract"] != "2026001" {
		t.Fatalf("edited token: %+v %v", col.Code, err)
	}
	// The plate: the poster page and the PNG of the code's current URL.
	plate := f.as(admin, get("/admin/managers/manager-a/codes/"+x.ID+"/plate"))
	if plate.StatusCode != 200 || !strings.Contains(plate.Body, "扫码付款") || !strings.Contains(plate.Body, "收款人：员工manager-a · 甲公司（年费）") ||
		!strings.Contains(plate.Body, "<svg") || strings.Contains(plate.Body, "公司名称") {
		t.Fatalf("plate: %d %s", plate.StatusCode, plate.Body)
	}
	pngResp := f.as(admin, get("/admin/managers/manager-a/codes/default/code.png"))
	raw, _ := base64.StdEncoding.DecodeString(pngResp.Body)
	img, err := png.Decode(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("plate png: %d %v", pngResp.StatusCode, err)
	}
	if text, err := qrscan.Read(img); err != nil || text != "https://pay.example.com/c/"+set.Default.Token {
		t.Fatalf("plate decodes to %q %v", text, err)
	}
	// Revoke: the token stops at once, the list shrinks.
	if r := f.as(admin, post("/admin/managers/manager-a/codes/"+x.ID+"/revoke")); r.StatusCode != 302 {
		t.Fatalf("revoke: %d %s", r.StatusCode, r.Body)
	}
	if _, err := f.st.LoadCollection(ctx, x.Token); err == nil {
		t.Fatal("revoked token still resolves")
	}
	f.api(m, "GET", "/m/api/codes", "", &list)
	if len(list.Codes) != 1 {
		t.Fatalf("after revoke: %+v", list.Codes)
	}
	// Audited, without whole tokens.
	n := 0
	for _, rec := range f.acc.records {
		if strings.HasPrefix(rec.action, "manager_code.") {
			n++
			if strings.Contains(rec.before+rec.after, x.Token) {
				t.Errorf("audit keeps a whole token: %s", rec.after)
			}
		}
	}
	if n != 3 {
		t.Errorf("%d manager code changes audited, want 3", n)
	}
	// Another company's manager, a cashier, an unknown code: 404.
	for _, p := range []string{"/admin/managers/manager-b/codes", "/admin/managers/cashier-a/codes", "/admin/managers/manager-a/codes/nope/edit", "/admin/managers/manager-a/codes/default/revoke"} {
		if r := f.as(admin, rq{method: "POST", path: p, form: url.Values{"name": {"x"}}}); r.StatusCode != 404 {
			t.Errorf("POST %s: %d", p, r.StatusCode)
		}
	}
	if r := f.as(f.login("admin-b"), get("/admin/managers/manager-a/codes/default/plate")); r.StatusCode != 404 {
		t.Errorf("company B printing A's plate: %d", r.StatusCode)
	}
}
