package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/pay/providers"
	"github.com/estatepay/estatepay/shared/secrets"
	"github.com/estatepay/estatepay/shared/store"
)

// An admin onboards a community with an Alipay interface: create the
// community (it gets a code), create the interface (it becomes the company's
// Alipay interface, 申请中), try to approve it without keys (refused), enter
// the keys once (written to the secret store, only a fingerprint shown),
// approve it, and the community shows Alipay as usable. Every write is
// audited with before/after.
func TestOnboardCommunityWithAlipay(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	admin := f.login("admin-a")

	r := f.as(admin, post("/admin/communities", "name", "  新小区  ", "max", "2000"))
	loc := r.Headers["Location"]
	if r.StatusCode != 302 || !strings.HasPrefix(loc, "/admin/communities/cm-") || !strings.HasSuffix(loc, "?done=created") {
		t.Fatalf("create community: %d %v %s", r.StatusCode, r.Headers, r.Body)
	}
	cmID := strings.TrimSuffix(strings.TrimPrefix(loc, "/admin/communities/"), "?done=created")
	cm, err := f.st.GetCommunity(ctx, cmID)
	if err != nil || cm.Name != "新小区" || cm.CompanyID != coA || cm.MaxAmountFen != 200000 {
		t.Fatalf("community %+v %v", cm, err)
	}
	codes, _ := f.st.ListCodes(ctx, cmID)
	if len(codes) != 1 || codes[0].Status != "active" || !domain.IsCodeToken(codes[0].Token) || len(codes[0].Token) < 22 {
		t.Fatalf("codes %+v", codes)
	}
	if len(f.acc.records) != 2 || f.acc.records[0].action != "community.create" || f.acc.records[0].before != "null" ||
		!strings.Contains(f.acc.records[0].after, "新小区") || f.acc.records[0].by.StaffID != "admin-a" || f.acc.records[1].action != "code.create" {
		t.Fatalf("audit %+v", f.acc.records)
	}
	page := f.as(admin, get(loc))
	if page.StatusCode != 200 || !strings.Contains(page.Body, "已创建") || !strings.Contains(page.Body, "新小区") || !strings.Contains(page.Body, "未开通") {
		t.Fatalf("community page: %d %s", page.StatusCode, page.Body)
	}

	// Company A's Alipay interface (if-ali-a) is not yet the company's;
	// creating a new one makes the new one the company's (it has none).
	r = f.as(admin, post("/admin/interfaces", "channel", "alipay", "mode", "app", "app_id", "2021000111", "seller_id", "2088000111"))
	if r.StatusCode != 302 || !strings.HasPrefix(r.Headers["Location"], "/admin/interfaces/if-") {
		t.Fatalf("create interface: %d %v %s", r.StatusCode, r.Headers, r.Body)
	}
	ifID := strings.TrimSuffix(strings.TrimPrefix(r.Headers["Location"], "/admin/interfaces/"), "?done=created")
	if co, _ := f.st.GetCompany(ctx, coA); co.AlipayIfaceID != ifID {
		t.Fatalf("company alipay %q, want %s", co.AlipayIfaceID, ifID)
	}
	i, _ := f.st.GetInterface(ctx, ifID)
	if i.Status != domain.StatusApplying || i.CompanyID != coA || i.SellerID != "2088000111" {
		t.Fatalf("interface %+v", i)
	}
	page = f.as(admin, get("/admin/interfaces/"+ifID))
	for _, want := range []string{"申请中", "支付宝授权待确认", "申请成功", "驳回", "未设置"} {
		if !strings.Contains(page.Body, want) {
			t.Errorf("interface page lacks %s", want)
		}
	}
	if r := f.as(admin, post("/admin/interfaces/"+ifID+"/status", "status", "auth_pending")); r.StatusCode != 400 || !strings.Contains(r.Body, "请先录入密钥") {
		t.Fatalf("approve without keys: %d %s", r.StatusCode, r.Body)
	}

	// Keys: Alipay's tool prints bare Base64; the console stores PEM.
	appKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	platKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	appDER, _ := x509.MarshalPKCS8PrivateKey(appKey)
	pubDER, _ := x509.MarshalPKIXPublicKey(&platKey.PublicKey)
	if r := f.as(admin, post("/admin/interfaces/"+ifID+"/secret", "app_private_key", "not a key", "alipay_public_key", base64.StdEncoding.EncodeToString(pubDER))); r.StatusCode != 400 {
		t.Fatalf("bad key: %d", r.StatusCode)
	}
	if r := f.as(admin, post("/admin/interfaces/"+ifID+"/secret", "app_private_key", base64.StdEncoding.EncodeToString(appDER),
		"alipay_public_key", base64.StdEncoding.EncodeToString(pubDER), "app_auth_token", "202501BBxxxx")); r.StatusCode != 400 || !strings.Contains(r.Body, "自研应用不需要") {
		t.Fatalf("token in app mode: %d %s", r.StatusCode, r.Body)
	}
	r = f.as(admin, post("/admin/interfaces/"+ifID+"/secret", "app_private_key", base64.StdEncoding.EncodeToString(appDER),
		"alipay_public_key", string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}))))
	if r.StatusCode != 302 {
		t.Fatalf("secret: %d %s", r.StatusCode, r.Body)
	}
	i, _ = f.st.GetInterface(ctx, ifID)
	if i.SecretRef != "file://"+f.keys+"/merchant/"+ifID+".json" || !strings.HasPrefix(i.SecretFingerprint, "SHA256:") {
		t.Fatalf("interface after secret %+v", i)
	}
	raw, err := os.ReadFile(strings.TrimPrefix(i.SecretRef, "file://"))
	if err != nil {
		t.Fatal(err)
	}
	var sec providers.AlipaySecret
	if err := json.Unmarshal(raw, &sec); err != nil || !strings.HasPrefix(sec.AppPrivateKey, "-----BEGIN PRIVATE KEY-----") || !strings.HasPrefix(sec.AlipayPublicKey, "-----BEGIN PUBLIC KEY-----") {
		t.Fatalf("stored secret: %v %.60s", err, raw)
	}
	if secrets.Fingerprint(raw) != i.SecretFingerprint {
		t.Fatal("fingerprint is not of the stored value")
	}
	page = f.as(admin, get("/admin/interfaces/"+ifID))
	if !strings.Contains(page.Body, i.SecretFingerprint) || strings.Contains(page.Body, "BEGIN") || strings.Contains(page.Body, base64.StdEncoding.EncodeToString(appDER)[:40]) {
		t.Fatal("the page shows the secret, or not its fingerprint")
	}
	last := f.acc.records[len(f.acc.records)-1]
	if last.action != "interface.secret" || strings.Contains(last.after, "BEGIN") || !strings.Contains(last.after, i.SecretFingerprint) {
		t.Fatalf("secret audit %+v", last)
	}

	for _, st := range []string{"auth_pending", "approved"} {
		if r := f.as(admin, post("/admin/interfaces/"+ifID+"/status", "status", st)); r.StatusCode != 302 {
			t.Fatalf("status %s: %d %s", st, r.StatusCode, r.Body)
		}
	}
	if r := f.as(admin, post("/admin/interfaces/"+ifID+"/status", "status", "applying")); r.StatusCode != 400 {
		t.Fatalf("approved → applying: %d", r.StatusCode)
	}
	if i, _ = f.st.GetInterface(ctx, ifID); i.Status != domain.StatusApproved {
		t.Fatalf("status %s", i.Status)
	}
	// C2 as the landing page sees it, and as the console shows it.
	coll, err := f.st.LoadCollection(ctx, codes[0].Token)
	if err != nil || !coll.Availability().Alipay || coll.Availability().WeChat {
		t.Fatalf("availability %+v %v", coll.Availability(), err)
	}
	if page := f.as(admin, get(loc)); !strings.Contains(page.Body, `<span class="tag ok">支付宝</span>`) {
		t.Fatalf("community page does not show Alipay: %s", page.Body)
	}

	// 微信支付设置: the company's approved WeChat interface.
	if r := f.as(admin, post("/admin/communities/"+cmID+"/wechat", "iface", "if-wx-a")); r.StatusCode != 302 {
		t.Fatalf("associate: %d %s", r.StatusCode, r.Body)
	}
	if coll, _ := f.st.LoadCollection(ctx, codes[0].Token); !coll.Availability().WeChat {
		t.Fatal("WeChat not usable after the association")
	}
}

func TestCodesRevokeRotate(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	admin := f.login("admin-a")
	if r := f.as(admin, post("/admin/codes/"+codeA+"/rotate")); r.StatusCode != 302 || r.Headers["Location"] != "/admin/communities/"+cmA+"?done=rotated" {
		t.Fatalf("rotate: %d %v", r.StatusCode, r.Headers)
	}
	if c, _ := f.st.GetCode(ctx, codeA); c.Status != "revoked" {
		t.Fatalf("old code %+v", c)
	}
	codes, _ := f.st.ListCodes(ctx, cmA)
	active, ok := store.ActiveCode(codes)
	if !ok || active.Token == codeA || len(codes) != 2 {
		t.Fatalf("codes %+v", codes)
	}
	if r := f.as(admin, post("/admin/codes/"+codeA+"/rotate")); r.StatusCode != 400 {
		t.Fatalf("rotating a revoked code: %d", r.StatusCode)
	}
	if r := f.as(admin, post("/admin/codes/"+active.Token+"/revoke")); r.StatusCode != 302 {
		t.Fatalf("revoke: %d", r.StatusCode)
	}
	if _, err := f.st.LoadCollection(ctx, active.Token); err != store.ErrNotFound {
		t.Fatalf("revoked code still loads: %v", err)
	}
	if r := f.as(admin, post("/admin/communities/"+cmA+"/codes")); r.StatusCode != 302 {
		t.Fatalf("new code: %d", r.StatusCode)
	}
	codes, _ = f.st.ListCodes(ctx, cmA)
	if _, ok := store.ActiveCode(codes); !ok || len(codes) != 3 {
		t.Fatalf("codes %+v", codes)
	}
	var actions []string
	for _, r := range f.acc.records {
		actions = append(actions, r.action)
	}
	if strings.Join(actions, " ") != "code.rotate code.revoke code.create" {
		t.Fatalf("audited %v", actions)
	}
}

func TestPayerFields(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	admin := f.login("admin-a")
	if r := f.as(admin, get("/admin/communities/"+cmA+"/payer-fields")); r.StatusCode != 200 || strings.Count(r.Body, `name="key`) != domain.MaxPayerFields {
		t.Fatalf("form: %d", r.StatusCode)
	}
	bad := map[string][]string{
		"标识须为小写字母": {"key0", "Room", "label0", "房号", "type0", "text"},
		"重复":       {"key0", "room", "label0", "房号", "type0", "text", "key1", "room", "label1", "房间", "type1", "text"},
		"名称须为":     {"key0", "room", "label0", "", "type0", "text"},
		"类型须为":     {"key0", "room", "label0", "房号", "type0", "date"},
		"最少字数不能大于": {"key0", "room", "label0", "房号", "type0", "text", "min0", "9", "max0", "3"},
		"字数须为数字":   {"key0", "room", "label0", "房号", "type0", "text", "min0", "x"},
	}
	for msg, kv := range bad {
		if r := f.as(admin, post("/admin/communities/"+cmA+"/payer-fields", kv...)); r.StatusCode != 400 || !strings.Contains(r.Body, msg) {
			t.Errorf("%s: %d %s", msg, r.StatusCode, r.Body)
		}
	}
	r := f.as(admin, post("/admin/communities/"+cmA+"/payer-fields", "key0", "room", "label0", "房号", "type0", "text", "required0", "1", "max0", "20",
		"key2", "phone", "label2", "手机号", "type2", "phone"))
	if r.StatusCode != 302 {
		t.Fatalf("save: %d %s", r.StatusCode, r.Body)
	}
	cm, _ := f.st.GetCommunity(ctx, cmA)
	want := domain.PayerFields{{Key: "room", Label: "房号", Type: domain.FieldText, Required: true, MaxLen: 20}, {Key: "phone", Label: "手机号", Type: domain.FieldPhone}}
	if got, _ := json.Marshal(cm.PayerFields); string(got) != string(mustJSON(want)) {
		t.Fatalf("fields %s", got)
	}
	// Company and code levels; the code's list wins for its payers.
	if r := f.as(admin, post("/admin/payer-fields", "key0", "owner", "label0", "业主", "type0", "text")); r.StatusCode != 302 {
		t.Fatalf("company: %d", r.StatusCode)
	}
	if r := f.as(admin, post("/admin/codes/"+codeA+"/payer-fields", "key0", "note", "label0", "备注", "type0", "text")); r.StatusCode != 302 {
		t.Fatalf("code: %d", r.StatusCode)
	}
	coll, _ := f.st.LoadCollection(ctx, codeA)
	if fs := coll.PayerFields(); len(fs) != 1 || fs[0].Key != "note" {
		t.Fatalf("resolved %+v", fs)
	}
	if co, _ := f.st.GetCompany(ctx, coA); len(co.PayerFields) != 1 || co.PayerFields[0].Key != "owner" {
		t.Fatalf("company fields %+v", co.PayerFields)
	}
	// Clearing the code's list falls back to the community's.
	if r := f.as(admin, post("/admin/codes/"+codeA+"/payer-fields")); r.StatusCode != 302 {
		t.Fatalf("clear: %d", r.StatusCode)
	}
	if coll, _ := f.st.LoadCollection(ctx, codeA); len(coll.PayerFields()) != 2 {
		t.Fatalf("after clearing %+v", coll.PayerFields())
	}
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

func TestStaffPages(t *testing.T) {
	f := newFixture(t)
	admin := f.login("admin-a")
	r := f.as(admin, get("/admin/staff"))
	if r.StatusCode != 200 || !strings.Contains(r.Body, "员工cashier-a") || strings.Contains(r.Body, "员工admin-b") || strings.Contains(r.Body, `value="operator"`) {
		t.Fatalf("staff page: %d %s", r.StatusCode, r.Body)
	}
	for msg, kv := range map[string][]string{
		"姓名":  {"name", "", "phone", "13900000009", "email", "a@example.com", "role", "cashier"},
		"手机号": {"name", "新人", "phone", "12ab", "email", "a@example.com", "role", "cashier"},
		"邮箱":  {"name", "新人", "phone", "13900000009", "email", "not-mail", "role", "cashier"},
		"角色":  {"name", "新人", "phone", "13900000009", "email", "a@example.com", "role", "operator"},
	} {
		if r := f.as(admin, post("/admin/staff", kv...)); r.StatusCode != 400 || !strings.Contains(r.Body, msg) {
			t.Errorf("%s: %d %s", msg, r.StatusCode, r.Body)
		}
	}
	// The form's first (default) role is the least powerful one an admin gives.
	if r := f.as(admin, get("/admin/staff")); !strings.Contains(r.Body, `<select id="role" name="role"><option value="cashier">`) {
		t.Fatalf("the staff form's default role is not 收银员:\n%s", r.Body)
	}
	r = f.as(admin, post("/admin/staff", "name", "新收银", "phone", "13900000009", "email", "new@example.com", "role", "cashier", "staff_company", coB))
	if r.StatusCode != 302 {
		t.Fatalf("create: %d %s", r.StatusCode, r.Body)
	}
	found := false
	for _, s := range f.acc.staff {
		if s.Phone == "13900000009" {
			found = s.CompanyID == coA && s.Role == RoleCashier && s.Status == "pending"
		}
	}
	if !found {
		t.Fatal("the new account is not a pending cashier of company A")
	}
	if r := f.as(admin, post("/admin/staff/admin-a/disable")); r.StatusCode != 400 {
		t.Fatalf("disable self: %d", r.StatusCode)
	}
	if r := f.as(admin, post("/admin/staff/cashier-a/disable")); r.StatusCode != 302 || f.acc.staff["cashier-a"].Status != "disabled" {
		t.Fatalf("disable: %d", r.StatusCode)
	}
	// Re-enable, and change a role: only to roles the caller gives, never one's own.
	if r := f.as(admin, post("/admin/staff/cashier-a/enable")); r.StatusCode != 302 || f.acc.staff["cashier-a"].Status != "active" {
		t.Fatalf("enable: %d %+v", r.StatusCode, f.acc.staff["cashier-a"])
	}
	if r := f.as(admin, post("/admin/staff/cashier-a/role", "role", "manager")); r.StatusCode != 302 || f.acc.staff["cashier-a"].Role != RoleManager {
		t.Fatalf("role change: %d %+v", r.StatusCode, f.acc.staff["cashier-a"])
	}
	if r := f.as(admin, post("/admin/staff/cashier-a/role", "role", "operator")); r.StatusCode != 400 || f.acc.staff["cashier-a"].Role != RoleManager {
		t.Fatalf("role change to operator: %d", r.StatusCode)
	}
	if r := f.as(admin, post("/admin/staff/admin-a/role", "role", "cashier")); r.StatusCode != 400 {
		t.Fatalf("own role change: %d", r.StatusCode)
	}
	f.acc.staff["cashier-a"].Role = RoleCashier
	if r := f.as(admin, post("/admin/staff/manager-a/reset")); r.StatusCode != 302 || f.acc.setpw["reset-manager-a"] != "manager-a" {
		t.Fatalf("reset: %d", r.StatusCode)
	}
	// The operator creates a company's first admin.
	op := f.login("op")
	if r := f.as(op, post("/admin/staff", "name", "B管理", "phone", "13900000010", "email", "b@example.com", "role", "admin", "staff_company", coB)); r.StatusCode != 302 {
		t.Fatalf("operator create: %d %s", r.StatusCode, r.Body)
	}
	// The audit log shows the company's entries.
	f.as(admin, post("/admin/communities/"+cmA, "name", "改名<b>", "max", ""))
	r = f.as(admin, get("/admin/audit"))
	if r.StatusCode != 200 || !strings.Contains(r.Body, "修改小区") || !strings.Contains(r.Body, "改名\\u003cb\\u003e") && !strings.Contains(r.Body, "改名&lt;b&gt;") {
		t.Fatalf("audit page: %d %s", r.StatusCode, r.Body)
	}
}

// Pages escape what people typed and carry the console's CSP, which allows
// no script and exactly the inlined stylesheet.
func TestPagesEscapeAndCSP(t *testing.T) {
	f := newFixture(t)
	admin := f.login("admin-a")
	evil := `<script>alert(1)</script>"'&`
	if r := f.as(admin, post("/admin/communities/"+cmA, "name", evil)); r.StatusCode != 302 {
		t.Fatalf("rename: %d %s", r.StatusCode, r.Body)
	}
	for _, path := range []string{"/admin/communities", "/admin/communities/" + cmA} {
		r := f.as(admin, get(path))
		if strings.Contains(r.Body, "<script>") || !strings.Contains(r.Body, "&lt;script&gt;alert(1)&lt;/script&gt;") {
			t.Errorf("%s does not escape the name", path)
		}
		csp := r.Headers["Content-Security-Policy"]
		if !strings.Contains(csp, "script-src 'none'") || !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("%s CSP %q", path, csp)
		}
		m := regexp.MustCompile(`(?s)<style>(.*?)</style>`).FindStringSubmatch(r.Body)
		sum := sha256.Sum256([]byte(m[1]))
		if !strings.Contains(csp, "'sha256-"+base64.StdEncoding.EncodeToString(sum[:])+"'") {
			t.Errorf("%s: the stylesheet's hash is not in the CSP", path)
		}
		if strings.Count(r.Body, "<form") != strings.Count(r.Body, `name="csrf"`) {
			t.Errorf("%s: a form without the CSRF field", path)
		}
	}
	// The notice comes from a fixed table, never from the URL.
	if r := f.as(admin, get("/admin/communities?done=<b>zqxnotice</b>")); strings.Contains(r.Body, "zqxnotice") {
		t.Error("a notice from the URL was shown")
	}
}

// The operator works on a company chosen from the companies page.
func TestOperatorCompanies(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	op := f.login("op")
	r := f.as(op, post("/admin/companies", "name", "新物业"))
	if r.StatusCode != 302 || !strings.HasPrefix(r.Headers["Location"], "/admin/companies/co-") {
		t.Fatalf("create: %d %v", r.StatusCode, r.Headers)
	}
	id := strings.TrimSuffix(strings.TrimPrefix(r.Headers["Location"], "/admin/companies/"), "?done=created")
	if co, err := f.st.GetCompany(ctx, id); err != nil || co.Name != "新物业" {
		t.Fatalf("company %+v %v", co, err)
	}
	if r := f.as(op, get("/admin/companies")); !strings.Contains(r.Body, "新物业") || !strings.Contains(r.Body, "物业B") {
		t.Fatalf("companies page: %s", r.Body)
	}
	if r := f.as(op, get("/admin/communities")); r.StatusCode != 302 || r.Headers["Location"] != "/admin/companies" {
		t.Fatalf("communities without a company: %d %v", r.StatusCode, r.Headers)
	}
	r = f.as(op, post("/admin/communities", "name", "运营建的小区", "company", id))
	if r.StatusCode != 302 || !strings.Contains(r.Headers["Location"], "company="+id) {
		t.Fatalf("create community: %d %v %s", r.StatusCode, r.Headers, r.Body)
	}
	if cms, _ := f.st.ListCommunities(ctx, id); len(cms) != 1 || cms[0].Name != "运营建的小区" {
		t.Fatalf("communities %+v", cms)
	}
	// Pages keep the company in scope for the nav.
	if r := f.as(op, get("/admin/communities/"+cmB)); r.StatusCode != 200 || !strings.Contains(r.Body, "/admin/interfaces?company="+coB) {
		t.Fatalf("operator community page: %d", r.StatusCode)
	}
}

// The CSP allows the inlined stylesheet by hash only, which blocks style
// attributes: the templates must not use any.
func TestTemplatesHaveNoInlineStyleOrScript(t *testing.T) {
	entries, err := os.ReadDir("../../shared/web/console/pages")
	if err != nil || len(entries) < 10 {
		t.Fatalf("pages: %v (%d)", err, len(entries))
	}
	for _, e := range entries {
		b, err := os.ReadFile("../../shared/web/console/pages/" + e.Name())
		if err != nil {
			t.Fatal(err)
		}
		for _, bad := range []string{"style=", "<script", "javascript:", " on"} {
			if bad == "<script" && e.Name() == "announce.html" {
				// 收款播报's one script file (announce.go), never inline code.
				if n := strings.Count(string(b), "<script"); n != 1 || !strings.Contains(string(b), `<script src="{{$b.Script}}"></script>`) {
					t.Errorf("announce.html: %d scripts, want its one file", n)
				}
				continue
			}
			if bad == " on" {
				if regexp.MustCompile(`\son[a-z]+=`).Match(b) {
					t.Errorf("%s has an inline event handler", e.Name())
				}
				continue
			}
			if strings.Contains(string(b), bad) {
				t.Errorf("%s contains %q", e.Name(), bad)
			}
		}
	}
}
