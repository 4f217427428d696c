package stack

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/skip2/go-qrcode"

	"github.com/estatepay/estatepay/shared/accounts"
	"github.com/estatepay/estatepay/shared/auth"
	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/notification"
	"github.com/estatepay/estatepay/shared/domain/staff"
	"github.com/estatepay/estatepay/shared/pay/providers"
	"github.com/estatepay/estatepay/shared/store"
)

// Demo merchant settings of the sandboxes.
const (
	DemoWeChatMchID       = "1900000001"
	DemoWeChatAppID       = "wx8888888888888888"
	DemoWeChatSerialNo    = "3775B6A45ACD588826D15E583A95F5DD4B0A1CD8"
	DemoWeChatPublicKeyID = "PUB_KEY_ID_0119000000012025112100000000000001"
	DemoAlipayAppID       = "2021000000000001"
	DemoAlipaySellerID    = "2088000000000001"
	DemoCompanyID         = "demo-company"
)

// DemoPayerFields are 阳光花园's payer fields (M5): 房号 required, 备注 offered.
var DemoPayerFields = domain.PayerFields{
	{Key: "room", Label: "房号", Type: domain.FieldText, Required: true, MinLen: 1, MaxLen: 20},
	{Key: "note", Label: "备注", Type: domain.FieldText, MaxLen: 50},
}

// DemoCommunity is one seeded community and its collection code.
type DemoCommunity struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Accepts string `json:"accepts"` // which apps can pay (C2)
	Token   string `json:"token"`
	URL     string `json:"url"`
	WeChat  string `json:"wechat_webview_url,omitempty"` // the URL through the sandbox WeChat WebView
	QRCode  string `json:"qr_png"`
}

// Demo is the seeded data.
type Demo struct {
	CompanyID   string          `json:"company_id"`
	Communities []DemoCommunity `json:"communities"`
	// SecondCompany is another property company with its own admin and
	// community (tenancy checks: the demo company's staff must not see it).
	SecondCompany *DemoCompany `json:"second_company,omitempty"`
	// Accounts are the console's demo logins (POST /admin/api/session).
	Accounts []DemoAccount `json:"accounts"`
	// Notices are 阳光花园's payment notices (demo_bills.go).
	Notices []DemoNotice `json:"notices,omitempty"`
}

// DemoCompany is a seeded property company.
type DemoCompany struct {
	ID          string          `json:"id"`
	Name        string          `json:"name"`
	Communities []DemoCommunity `json:"communities"`
}

// DemoAccount is a seeded staff login; the password is generated once per
// state directory and kept in .local/keys/demo-accounts.json.
type DemoAccount struct {
	CompanyID string `json:"company_id"` // "" for the operator
	Role      string `json:"role"`
	Name      string `json:"name"`
	Phone     string `json:"phone"`
	Password  string `json:"password"`
	// A business manager's current default code at start (demo_managers.go).
	CodeURL       string `json:"code_url,omitempty"`
	WeChatCodeURL string `json:"wechat_code_url,omitempty"`
}

// Second demo company.
const (
	SecondCompanyID   = "second-company"
	SecondCommunityID = "second-community"
)

func newToken() string {
	b := make([]byte, 16) // 128 bits
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// seedDemo writes one property company with three communities (both apps; only
// Alipay; none), a second company with one community, and the demo staff
// accounts through the store, unless .local/demo.json says they are there. The
// demo interfaces and their secret files are written on every start, so a state
// directory from an older version picks up changed records (e.g. the separate
// OAuth secret reference); one from before the second company gets it added.
func (s *Stack) seedDemo(ctx context.Context, st *store.Store) (*Demo, error) {
	if err := s.seedDemoInterfaces(ctx, st); err != nil {
		return nil, err
	}
	path := filepath.Join(s.opt.StateDir, "demo.json")
	var demo Demo
	have := false
	if b, err := os.ReadFile(path); err == nil && json.Unmarshal(b, &demo) == nil && len(demo.Communities) == 3 {
		_, err := st.GetCode(ctx, demo.Communities[0].Token)
		have = err == nil
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	changed := false
	if !have {
		if err := seedFirstCompany(ctx, st, &demo); err != nil {
			return nil, err
		}
		changed = true
	}
	if sc := demo.SecondCompany; sc == nil || len(sc.Communities) != 1 || func() bool { _, err := st.GetCode(ctx, sc.Communities[0].Token); return err != nil }() {
		if err := seedSecondCompany(ctx, st, &demo); err != nil {
			return nil, err
		}
		changed = true
	}
	demo.Accounts = nil // never kept in demo.json: the passwords live under keys/
	if err := seedDemoFenfu(ctx, st, time.Now()); err != nil {
		return nil, fmt.Errorf("demo 分付: %w", err)
	}
	if changed {
		if err := writeJSON(path, demo); err != nil {
			return nil, err
		}
	}
	if st.Access != "" {
		var err error
		if demo.Accounts, err = s.seedAccounts(ctx, st); err != nil {
			return nil, fmt.Errorf("demo accounts: %w", err)
		}
	}
	if err := seedDemoManagerCodes(ctx, st); err != nil {
		return nil, fmt.Errorf("demo manager codes: %w", err)
	}
	if st.Access != "" {
		if err := seedDemoNotifications(ctx, st); err != nil {
			return nil, fmt.Errorf("demo notifications: %w", err)
		}
	}
	if st.Bills != "" {
		seeded, err := s.seedDemoBills(ctx, st, &demo)
		if err != nil {
			return nil, fmt.Errorf("demo bills: %w", err)
		}
		if seeded { // demo.json remembers the notices (never the accounts)
			kept := demo
			kept.Accounts = nil
			if err := writeJSON(path, kept); err != nil {
				return nil, err
			}
		}
	}
	if st.Bills != "" { // arrears reminders: settings, a house without a phone (demo_remind.go)
		if err := seedDemoReminders(ctx, st); err != nil {
			return nil, fmt.Errorf("demo reminders: %w", err)
		}
		if err := seedDemoRemindWechat(ctx, st); err != nil { // a bound WeChat (demo_remind_oa.go)
			return nil, fmt.Errorf("demo reminders: %w", err)
		}
	}
	if err := s.demoManagerURLs(ctx, st, &demo); err != nil {
		return nil, fmt.Errorf("demo manager codes: %w", err)
	}
	return &demo, s.writeQRCodes(&demo)
}

func seedFirstCompany(ctx context.Context, st *store.Store, demo *Demo) error {
	if err := st.PutCompany(ctx, store.Company{ID: DemoCompanyID, Name: "示例物业服务有限公司", AlipayIfaceID: "demo-alipay"}); err != nil {
		return err
	}
	demo.CompanyID, demo.Communities = DemoCompanyID, nil
	for _, c := range []struct {
		com     store.Community
		accepts string
	}{
		{store.Community{ID: "demo-both", CompanyID: DemoCompanyID, Name: "阳光花园", WeChatIfaceID: "demo-wechat",
			PayerFields: DemoPayerFields}, "wechat+alipay"},
		{store.Community{ID: "demo-alipay-only", CompanyID: DemoCompanyID, Name: "翠湖小区"}, "alipay"},
		{store.Community{ID: "demo-none", CompanyID: "demo-company-2", Name: "未开通小区"}, "none"},
	} {
		dc, err := seedCommunity(ctx, st, c.com, c.accepts)
		if err != nil {
			return err
		}
		demo.Communities = append(demo.Communities, dc)
	}
	// The third community belongs to a company with no interfaces at all.
	return st.PutCompany(ctx, store.Company{ID: "demo-company-2", Name: "未开通物业公司"})
}

func seedSecondCompany(ctx context.Context, st *store.Store, demo *Demo) error {
	sc := &DemoCompany{ID: SecondCompanyID, Name: "第二物业服务有限公司"}
	if err := st.PutCompany(ctx, store.Company{ID: sc.ID, Name: sc.Name}); err != nil {
		return err
	}
	dc, err := seedCommunity(ctx, st, store.Community{ID: SecondCommunityID, CompanyID: sc.ID, Name: "第二小区"}, "none")
	if err != nil {
		return err
	}
	sc.Communities = []DemoCommunity{dc}
	demo.SecondCompany = sc
	return nil
}

func seedCommunity(ctx context.Context, st *store.Store, c store.Community, accepts string) (DemoCommunity, error) {
	tok := newToken()
	if err := st.PutCommunity(ctx, c); err != nil {
		return DemoCommunity{}, err
	}
	if err := st.PutCode(ctx, store.Code{Token: tok, CommunityID: c.ID, Kind: "community", Status: "active"}); err != nil {
		return DemoCommunity{}, err
	}
	return DemoCommunity{ID: c.ID, Name: c.Name, Accepts: accepts, Token: tok}, nil
}

// demoStaff are the seeded accounts: the operator, one account per role of
// the demo company, and the second company's admin.
var demoStaff = []staff.Staff{
	{ID: "demo-operator", Role: staff.Operator, Name: "平台运营（演示）", Phone: "13800000000", Email: "operator@demo.example.com"},
	{ID: "demo-admin", CompanyID: DemoCompanyID, Role: staff.Admin, Name: "公司管理员（演示）", Phone: "13800000001", Email: "admin@demo.example.com"},
	{ID: "demo-cashier", CompanyID: DemoCompanyID, Role: staff.Cashier, Name: "收银员（演示）", Phone: "13800000002", Email: "cashier@demo.example.com"},
	{ID: "demo-manager", CompanyID: DemoCompanyID, Role: staff.Manager, Name: "业务经理（演示）", Phone: "13800000003", Email: "manager@demo.example.com"},
	{ID: "demo-risk", CompanyID: DemoCompanyID, Role: staff.RiskOfficer, Name: "风控专员（演示）", Phone: "13800000004", Email: "risk@demo.example.com"},
	{ID: "second-admin", CompanyID: SecondCompanyID, Role: staff.Admin, Name: "第二公司管理员（演示）", Phone: "13900000001", Email: "admin@second.example.com"},
}

// DemoAccountsFile holds the demo accounts' passwords (phone → password),
// generated once per state directory.
const DemoAccountsFile = "demo-accounts.json"

// seedAccounts makes sure every demo account exists, is active and has its
// password from keys/demo-accounts.json (created with new random passwords
// when missing). Passwords are checked against the stored hash only when
// they were just generated, so a restart costs no hashing.
func (s *Stack) seedAccounts(ctx context.Context, st *store.Store) ([]DemoAccount, error) {
	path := filepath.Join(s.opt.StateDir, "keys", DemoAccountsFile)
	passwords := map[string]string{}
	if b, err := os.ReadFile(path); err == nil {
		if err := json.Unmarshal(b, &passwords); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	fresh := map[string]bool{}
	for _, d := range demoStaff {
		if auth.CheckPasswordPolicy(passwords[d.Phone]) != nil {
			pw := ""
			for auth.CheckPasswordPolicy(pw) != nil {
				pw = "demo-" + randomHex(5)
			}
			passwords[d.Phone], fresh[d.Phone] = pw, true
		}
	}
	if len(fresh) > 0 {
		if err := writeJSON(path, passwords); err != nil {
			return nil, err
		}
	}
	repo := st.AccessRepo()
	var out []DemoAccount
	for _, d := range demoStaff {
		pw := passwords[d.Phone]
		if err := seedAccount(ctx, repo, d, pw, fresh[d.Phone]); err != nil {
			return nil, fmt.Errorf("%s: %w", d.ID, err)
		}
		out = append(out, DemoAccount{CompanyID: d.CompanyID, Role: string(d.Role), Name: d.Name, Phone: d.Phone, Password: pw})
	}
	return out, nil
}

func seedAccount(ctx context.Context, repo *store.Access, d staff.Staff, pw string, check bool) error {
	cur, err := repo.GetStaff(ctx, d.ID)
	found := err == nil
	if err != nil && !errors.Is(err, accounts.ErrNotFound) {
		return err
	}
	if found && cur.Status == staff.Active && (!check || auth.VerifyPassword(cur.PasswordHash, pw)) {
		return nil
	}
	hash, err := auth.HashPassword(pw)
	if err != nil {
		return err
	}
	next := cur
	if !found {
		if next, err = staff.New(d, time.Now()); err != nil {
			return err
		}
	}
	if next.Status == staff.Disabled { // a demo account someone disabled: enable it again
		next.Status = staff.Pending
	}
	link := auth.NewID()
	_ = next.IssuePasswordLink(link)
	if _, err := next.SetPassword(link, hash); err != nil {
		return err
	}
	c := accounts.Change{Staff: &next, Bootstrap: !found && d.Role == staff.Operator}
	if found {
		c.PrevVersion = cur.Version
	}
	err = repo.Apply(ctx, c)
	if errors.Is(err, accounts.ErrOperatorExists) { // an operator was bootstrapped before the demo one
		c.Bootstrap = false
		err = repo.Apply(ctx, c)
	}
	return err
}

// seedDemoInterfaces writes the demo merchants' secret files under .local/keys/
// (as Secrets Manager would hold them: merchant keys apart from the WeChat OAuth
// app secret) and their interface records.
func (s *Stack) seedDemoInterfaces(ctx context.Context, st *store.Store) error {
	k := s.keys
	keyDir := filepath.Join(s.opt.StateDir, "keys")
	files := []struct {
		name string
		v    any
	}{
		{"merchant-wechat-demo.json", providers.WeChatSecret{
			MerchantPrivateKey: privatePEM(k.WeChatMerchant), APIv3Key: k.APIv3Key,
			PlatformPublicKey: publicPEM(&k.WeChatPlatform.PublicKey),
		}},
		{"oauth-wechat-demo.json", providers.OAuthSecret{OAuthAppSecret: k.OAuthSecret}},
		{"merchant-alipay-demo.json", providers.AlipaySecret{
			AppPrivateKey: privatePEM(k.AlipayApp), AlipayPublicKey: publicPEM(&k.AlipayPlatform.PublicKey),
		}},
		// The same app's keys under …/oauth/: what the landing function may
		// read for auth_base (我的缴费记录), never the merchant secret.
		{"oauth-alipay-demo.json", providers.AlipayOAuthSecret{
			AppPrivateKey: privatePEM(k.AlipayApp), AlipayPublicKey: publicPEM(&k.AlipayPlatform.PublicKey),
		}},
	}
	refs := map[string]string{}
	for _, f := range files {
		b, err := json.Marshal(f.v)
		if err != nil {
			return err
		}
		p := filepath.Join(keyDir, f.name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			return err
		}
		refs[f.name] = "file://" + p
	}
	ifaces := []store.Interface{
		{ID: "demo-wechat", CompanyID: DemoCompanyID, Channel: domain.WeChat, Status: domain.StatusApproved, Mode: "direct",
			AppID: DemoWeChatAppID, MchID: DemoWeChatMchID, MerchantSerialNo: DemoWeChatSerialNo,
			PlatformPublicKeyID: DemoWeChatPublicKeyID, SecretRef: refs["merchant-wechat-demo.json"],
			OAuthSecretRef: refs["oauth-wechat-demo.json"], Fenfu: store.FenfuEnabled}, // 分付 approved (demo_fenfu.go)
		{ID: "demo-alipay", CompanyID: DemoCompanyID, Channel: domain.Alipay, Status: domain.StatusApproved, Mode: "app",
			AppID: DemoAlipayAppID, SellerID: DemoAlipaySellerID, SecretRef: refs["merchant-alipay-demo.json"],
			OAuthSecretRef: refs["oauth-alipay-demo.json"]},
	}
	for _, i := range ifaces {
		if err := st.PutInterface(ctx, i); err != nil {
			return err
		}
	}
	return nil
}

// writeQRCodes fills in URLs and writes a print-quality PNG per code.
func (s *Stack) writeQRCodes(d *Demo) error {
	dir := filepath.Join(s.opt.StateDir, "qr")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	all := make([]*DemoCommunity, 0, len(d.Communities)+1)
	for i := range d.Communities {
		all = append(all, &d.Communities[i])
	}
	if d.SecondCompany != nil {
		for i := range d.SecondCompany.Communities {
			all = append(all, &d.SecondCompany.Communities[i])
		}
	}
	for _, c := range all {
		c.URL = s.URLs.Gateway + "/c/" + c.Token
		c.WeChat = s.URLs.WeChatWebView + "/c/" + c.Token
		c.QRCode = filepath.Join(dir, c.ID+".png")
		if err := qrcode.WriteFile(c.URL, qrcode.High, 1024, c.QRCode); err != nil {
			return fmt.Errorf("qr %s: %w", c.ID, err)
		}
	}
	return nil
}

// DemoAdminOpenID is the official-account openid seeded on the demo admin's
// preference for payment messages (a WeChat bound on 通知设置 replaces it).
const DemoAdminOpenID = "oDemoAdminNotify000000000000"

// DemoManagerOpenID is the official-account openid seeded on the demo
// manager's preference for their own codes' payments (off until they switch
// 接收收款成功通知 on in the app's 设置).
const DemoManagerOpenID = "oDemoManagerNotify0000000000"

// seedDemoNotifications opts the demo admin in to payment messages of 阳光花园
// (demo-both) through the official account, and gives the demo manager's
// own-codes preference its official-account openid, switched off, unless a
// choice is stored already.
func seedDemoNotifications(ctx context.Context, st *store.Store) error {
	repo := st.NotificationRepo()
	for _, p := range []notification.Preference{
		{CompanyID: DemoCompanyID, CommunityID: "demo-both", StaffID: "demo-admin", Payments: true, Channel: notification.WeChatOA, OpenID: DemoAdminOpenID},
		{CompanyID: DemoCompanyID, CommunityID: notification.OwnCodes, StaffID: DemoManagerID, Payments: false, Channel: notification.WeChatOA, OpenID: DemoManagerOpenID},
	} {
		_, ok, err := repo.Preference(ctx, p.CompanyID, p.CommunityID, p.StaffID)
		if err != nil {
			return err
		}
		if ok {
			continue
		}
		p.UpdatedAt = time.Now()
		if err := repo.PutPreference(ctx, p); err != nil {
			return err
		}
	}
	return nil
}
