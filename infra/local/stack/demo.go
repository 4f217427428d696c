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

	"github.com/skip2/go-qrcode"

	"github.com/estatepay/estatepay/shared/domain"
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
}

func newToken() string {
	b := make([]byte, 16) // 128 bits
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// seedDemo writes one property company with three communities (both apps; only
// Alipay; none) through the store, unless .local/demo.json says it is there. The
// demo interfaces and their secret files are written on every start, so a state
// directory from an older version picks up changed records (e.g. the separate
// OAuth secret reference).
func (s *Stack) seedDemo(ctx context.Context, st *store.Store) (*Demo, error) {
	if err := s.seedDemoInterfaces(ctx, st); err != nil {
		return nil, err
	}
	path := filepath.Join(s.opt.StateDir, "demo.json")
	var demo Demo
	if b, err := os.ReadFile(path); err == nil && json.Unmarshal(b, &demo) == nil && len(demo.Communities) == 3 {
		if _, err := st.GetCode(ctx, demo.Communities[0].Token); err == nil {
			return &demo, s.writeQRCodes(&demo)
		}
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if err := st.PutCompany(ctx, store.Company{ID: DemoCompanyID, Name: "示例物业服务有限公司", AlipayIfaceID: "demo-alipay"}); err != nil {
		return nil, err
	}
	demo = Demo{CompanyID: DemoCompanyID}
	for _, c := range []struct {
		com     store.Community
		accepts string
	}{
		{store.Community{ID: "demo-both", CompanyID: DemoCompanyID, Name: "阳光花园", WeChatIfaceID: "demo-wechat",
			PayerFields: DemoPayerFields}, "wechat+alipay"},
		{store.Community{ID: "demo-alipay-only", CompanyID: DemoCompanyID, Name: "翠湖小区"}, "alipay"},
		{store.Community{ID: "demo-none", CompanyID: "demo-company-2", Name: "未开通小区"}, "none"},
	} {
		tok := newToken()
		c.com.CodeToken = tok
		if err := st.PutCommunity(ctx, c.com); err != nil {
			return nil, err
		}
		if err := st.PutCode(ctx, store.Code{Token: tok, CommunityID: c.com.ID, Kind: "community", Status: "active"}); err != nil {
			return nil, err
		}
		demo.Communities = append(demo.Communities, DemoCommunity{ID: c.com.ID, Name: c.com.Name, Accepts: c.accepts, Token: tok})
	}
	// The third community belongs to a company with no interfaces at all.
	if err := st.PutCompany(ctx, store.Company{ID: "demo-company-2", Name: "未开通物业公司"}); err != nil {
		return nil, err
	}
	if err := writeJSON(path, demo); err != nil {
		return nil, err
	}
	return &demo, s.writeQRCodes(&demo)
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
			OAuthSecretRef: refs["oauth-wechat-demo.json"]},
		{ID: "demo-alipay", CompanyID: DemoCompanyID, Channel: domain.Alipay, Status: domain.StatusApproved, Mode: "app",
			AppID: DemoAlipayAppID, SellerID: DemoAlipaySellerID, SecretRef: refs["merchant-alipay-demo.json"]},
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
	for i := range d.Communities {
		c := &d.Communities[i]
		c.URL = s.URLs.Gateway + "/c/" + c.Token
		c.WeChat = s.URLs.WeChatWebView + "/c/" + c.Token
		c.QRCode = filepath.Join(dir, c.ID+".png")
		if err := qrcode.WriteFile(c.URL, qrcode.High, 1024, c.QRCode); err != nil {
			return fmt.Errorf("qr %s: %w", c.ID, err)
		}
	}
	return nil
}
