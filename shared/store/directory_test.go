package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/store"
)

// seedDirectory writes two companies: co-1 (Alipay + WeChat interfaces) and
// co-2 (its own interfaces), and communities pointing at them in various ways.
func seedDirectory(t *testing.T, s *store.Store) {
	t.Helper()
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, i := range []store.Interface{
		{ID: "ali-1", CompanyID: "co-1", Channel: domain.Alipay, Status: domain.StatusApproved, Mode: "app", AppID: "2021", SellerID: "2088", SecretRef: "file://x"},
		{ID: "wx-1", CompanyID: "co-1", Channel: domain.WeChat, Status: domain.StatusApproved, Mode: "direct", AppID: "wx1", MchID: "190", SecretRef: "file://y"},
		{ID: "ali-2", CompanyID: "co-2", Channel: domain.Alipay, Status: domain.StatusApproved, Mode: "app", SecretRef: "file://z"},
		{ID: "wx-2", CompanyID: "co-2", Channel: domain.WeChat, Status: domain.StatusApproved, Mode: "direct", SecretRef: "file://w"},
	} {
		must(s.PutInterface(ctx, i))
	}
	must(s.PutCompany(ctx, store.Company{ID: "co-1", Name: "物业一", AlipayIfaceID: "ali-1"}))
	must(s.PutCompany(ctx, store.Company{ID: "co-3", Name: "借用别家接口", AlipayIfaceID: "ali-2"}))
	must(s.PutCompany(ctx, store.Company{ID: "co-4", Name: "渠道错配", AlipayIfaceID: "wx-1"}))
	must(s.PutCompany(ctx, store.Company{ID: "co-5", Name: "悬空引用", AlipayIfaceID: "gone"}))
	for _, c := range []store.Community{
		{ID: "c-both", CompanyID: "co-1", Name: "两者", WeChatIfaceID: "wx-1", MaxAmountFen: 1000},
		{ID: "c-ali", CompanyID: "co-1", Name: "仅支付宝"},
		{ID: "c-foreign-wx", CompanyID: "co-1", Name: "别家微信", WeChatIfaceID: "wx-2"},
		{ID: "c-foreign-ali", CompanyID: "co-3", Name: "别家支付宝", WeChatIfaceID: "wx-2"},
		{ID: "c-mismatch", CompanyID: "co-4", Name: "错配", WeChatIfaceID: "ali-1"},
		{ID: "c-dangling", CompanyID: "co-5", Name: "悬空", WeChatIfaceID: "gone-too"},
		{ID: "c-orphan", CompanyID: "co-missing", Name: "无公司"},
	} {
		must(s.PutCommunity(ctx, c))
	}
	for tok, com := range map[string]string{
		"tok-both": "c-both", "tok-ali": "c-ali", "tok-foreign-wx": "c-foreign-wx", "tok-foreign-ali": "c-foreign-ali",
		"tok-mismatch": "c-mismatch", "tok-dangling": "c-dangling", "tok-orphan": "c-orphan", "tok-nocommunity": "c-missing",
	} {
		must(s.PutCode(ctx, store.Code{Token: tok, CommunityID: com, Kind: "community", Status: "active"}))
	}
	must(s.PutCode(ctx, store.Code{Token: "tok-revoked", CommunityID: "c-both", Kind: "community", Status: "revoked"}))
	must(s.PutCode(ctx, store.Code{Token: "tok-nostatus", CommunityID: "c-both", Kind: "community"}))
}

func TestLoadCollection(t *testing.T) {
	s := newStore(t)
	seedDirectory(t, s)
	ctx := context.Background()

	col, err := s.LoadCollection(ctx, "tok-both")
	if err != nil {
		t.Fatal(err)
	}
	if col.Code.Token != "tok-both" || col.Community.ID != "c-both" || col.Company.ID != "co-1" || col.Community.MaxAmountFen != 1000 {
		t.Fatalf("collection = %+v", col)
	}
	if col.Alipay == nil || col.Alipay.ID != "ali-1" || col.WeChat == nil || col.WeChat.ID != "wx-1" {
		t.Fatalf("interfaces = %+v / %+v", col.Alipay, col.WeChat)
	}
	if av := col.Availability(); !av.WeChat || !av.Alipay {
		t.Fatalf("availability = %+v", av)
	}
	if col.Interface(domain.WeChat) != col.WeChat || col.Interface(domain.Alipay) != col.Alipay || col.Interface("x") != nil {
		t.Fatal("Interface(ch) does not pick the channel's interface")
	}

	cases := []struct {
		token            string
		alipay, wechat   string // expected interface ids ("" = nil)
		avAlipay, avWeCh bool
	}{
		{"tok-ali", "ali-1", "", true, false},
		// Another company's interface is ignored, never used to take money (C1).
		{"tok-foreign-wx", "ali-1", "", true, false},
		{"tok-foreign-ali", "", "", false, false},
		// An interface of the wrong channel never enables anything.
		{"tok-mismatch", "", "", false, false},
		// Dangling references are ignored.
		{"tok-dangling", "", "", false, false},
	}
	for _, c := range cases {
		col, err := s.LoadCollection(ctx, c.token)
		if err != nil {
			t.Errorf("%s: %v", c.token, err)
			continue
		}
		if id := ifaceID(col.Alipay); id != c.alipay {
			t.Errorf("%s: Alipay interface %q, want %q", c.token, id, c.alipay)
		}
		if id := ifaceID(col.WeChat); id != c.wechat {
			t.Errorf("%s: WeChat interface %q, want %q", c.token, id, c.wechat)
		}
		if av := col.Availability(); av.Alipay != c.avAlipay || av.WeChat != c.avWeCh {
			t.Errorf("%s: availability %+v, want alipay=%v wechat=%v", c.token, av, c.avAlipay, c.avWeCh)
		}
	}
}

func ifaceID(i *store.Interface) string {
	if i == nil {
		return ""
	}
	return i.ID
}

func TestLoadCollectionNotFound(t *testing.T) {
	s := newStore(t)
	seedDirectory(t, s)
	ctx := context.Background()
	for _, tok := range []string{"tok-revoked", "tok-nostatus", "tok-unknown", ""} {
		if _, err := s.LoadCollection(ctx, tok); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("LoadCollection(%q) = %v, want ErrNotFound", tok, err)
		}
	}
	// Broken data behind an active code is an error, not a collection.
	for _, tok := range []string{"tok-orphan", "tok-nocommunity"} {
		if _, err := s.LoadCollection(ctx, tok); err == nil {
			t.Errorf("LoadCollection(%q) succeeded", tok)
		}
	}
}

func TestDirectoryRoundTrip(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	in := store.Interface{ID: "wx-p", CompanyID: "co-1", Channel: domain.WeChat, Status: domain.StatusAuthPending, Mode: "partner",
		SpAppID: "wxsp", SpMchID: "sp1", SubMchID: "sub1", SubAppID: "wxsub", SecretRef: "arn:x"}
	if err := s.PutInterface(ctx, in); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetInterface(ctx, "wx-p")
	if err != nil || got != in {
		t.Fatalf("GetInterface = %+v, %v", got, err)
	}
	if got.PaymentMerchant() != "sub1" || got.PaymentApp() != "wxsp" || got.OAuthAppID() != "wxsub" {
		t.Fatalf("partner ids: merchant %q app %q oauth %q", got.PaymentMerchant(), got.PaymentApp(), got.OAuthAppID())
	}
	for _, f := range []func() error{
		func() error { _, err := s.GetCompany(ctx, "nope"); return err },
		func() error { _, err := s.GetCommunity(ctx, "nope"); return err },
		func() error { _, err := s.GetInterface(ctx, ""); return err },
		func() error { _, err := s.GetCode(ctx, "nope"); return err },
	} {
		if err := f(); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("missing item: %v, want ErrNotFound", err)
		}
	}
}

// A community's code to print is its active code, found among its codes: a
// community with none, or only revoked ones, has none; a rotated code's
// successor replaces it; another community's codes are not its own.
func TestCommunityCode(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	if err := s.PutCommunity(ctx, store.Community{ID: "com-x", CompanyID: "co-1", Name: "X"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CommunityCode(ctx, "com-x"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("community without codes: %v", err)
	}
	if err := s.PutCode(ctx, store.Code{Token: "tok-x-0123456789abcdefghij", CommunityID: "com-x", Kind: "community", Status: "revoked"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CommunityCode(ctx, "com-x"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("only a revoked code: %v", err)
	}
	if err := s.PutCode(ctx, store.Code{Token: "tok-x-1123456789abcdefghij", CommunityID: "com-x", Kind: "community", Status: "active"}); err != nil {
		t.Fatal(err)
	}
	if c, err := s.CommunityCode(ctx, "com-x"); err != nil || c.Token != "tok-x-1123456789abcdefghij" {
		t.Fatalf("code = %+v %v, want the active one", c, err)
	}
	if err := s.PutCommunity(ctx, store.Community{ID: "com-y", CompanyID: "co-1", Name: "Y"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CommunityCode(ctx, "com-y"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("another community's code: %v", err)
	}
	if _, err := s.CommunityCode(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown community: %v", err)
	}
}
