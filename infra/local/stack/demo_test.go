package stack_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/estatepay/estatepay/infra/local/stack"
	"github.com/estatepay/estatepay/infra/local/stacktest"
	"github.com/estatepay/estatepay/shared/accounts"
)

// The demo WeChat interface keeps its OAuth app secret apart from its merchant
// keys, as in Secrets Manager (estatepay/<stage>/oauth/… and …/merchant/…): the
// landing function reads the first only.
func TestDemoWeChatOAuthSecretIsSeparate(t *testing.T) {
	s := stacktest.Start(t)
	iface, err := s.Store().GetInterface(context.Background(), "demo-wechat")
	if err != nil {
		t.Fatal(err)
	}
	read := func(ref string) map[string]any {
		t.Helper()
		u, err := url.Parse(ref)
		if err != nil || u.Scheme != "file" {
			t.Fatalf("reference %q is not a file URL", ref)
		}
		b, err := os.ReadFile(u.Path)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	if iface.OAuthSecretRef == "" || iface.OAuthSecretRef == iface.SecretRef {
		t.Fatalf("OAuth secret ref %q (merchant secret ref %q)", iface.OAuthSecretRef, iface.SecretRef)
	}
	oauth := read(iface.OAuthSecretRef)
	if len(oauth) != 1 || oauth["oauth_app_secret"] != s.Keys().OAuthSecret {
		t.Errorf("OAuth secret holds %d fields (want only oauth_app_secret matching the sandbox's)", len(oauth))
	}
	merchant := read(iface.SecretRef)
	if _, ok := merchant["oauth_app_secret"]; ok {
		t.Error("the merchant secret still carries oauth_app_secret")
	}
	if merchant["apiv3_key"] == nil || merchant["merchant_private_key"] == nil {
		t.Error("the merchant secret lacks its keys")
	}
}

// The demo seeds the operator, one account per role of the demo company and
// the second company's admin (with its own community and code); their
// passwords are generated once per state directory and survive restarts;
// each logs in; stack.json lists them under demo.accounts.
func TestDemoAccounts(t *testing.T) {
	dir := t.TempDir()
	s := stacktest.Start(t, stacktest.Options{StateDir: dir})
	want := map[string]string{"operator": "", "admin": "demo-company", "cashier": "demo-company", "manager": "demo-company", "risk_officer": "demo-company"}
	roles := map[string]int{}
	secondAdmin := false
	for _, a := range s.Demo.Accounts {
		roles[a.Role]++
		if a.CompanyID == stack.SecondCompanyID && a.Role == "admin" {
			secondAdmin = true
			continue
		}
		if c, ok := want[a.Role]; !ok || c != a.CompanyID {
			t.Errorf("account %+v", a)
		}
	}
	if len(s.Demo.Accounts) != 6 || !secondAdmin || roles["admin"] != 2 || roles["cashier"] != 1 || roles["manager"] != 1 || roles["risk_officer"] != 1 || roles["operator"] != 1 {
		t.Fatalf("demo accounts %+v", s.Demo.Accounts)
	}
	sc := s.Demo.SecondCompany
	if sc == nil || sc.ID != stack.SecondCompanyID || len(sc.Communities) != 1 || sc.Communities[0].URL == "" {
		t.Fatalf("second company %+v", sc)
	}
	ctx := context.Background()
	if com, err := s.Store().GetCommunity(ctx, sc.Communities[0].ID); err != nil || com.CompanyID != stack.SecondCompanyID {
		t.Fatalf("second community %+v %v", com, err)
	}
	if code, err := s.Store().GetCode(ctx, sc.Communities[0].Token); err != nil || code.CommunityID != sc.Communities[0].ID || code.Status != "active" {
		t.Fatalf("second code %+v %v", code, err)
	}
	svc := &accounts.Service{Repo: s.Store().AccessRepo()}
	for _, a := range s.Demo.Accounts {
		res, err := svc.Login(ctx, accounts.LoginRequest{Phone: a.Phone, Password: a.Password, IP: "127.0.0.1"})
		if err != nil || string(res.Principal.Role) != a.Role || res.Principal.CompanyID != a.CompanyID {
			t.Errorf("login %s: %+v %v", a.Phone, res.Principal, err)
		}
	}
	var desc struct {
		Demo struct {
			Accounts []stack.DemoAccount `json:"accounts"`
		} `json:"demo"`
	}
	b, _ := os.ReadFile(filepath.Join(dir, "stack.json"))
	if err := json.Unmarshal(b, &desc); err != nil || len(desc.Demo.Accounts) != 6 || desc.Demo.Accounts[1].Password == "" {
		t.Fatalf("stack.json demo.accounts: %v %s", err, b)
	}
	first := s.Demo.Accounts
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := stacktest.Start(t, stacktest.Options{StateDir: dir})
	if fmt.Sprint(portless(s2.Demo.Accounts)) != fmt.Sprint(portless(first)) || s2.Demo.SecondCompany.Communities[0].Token != sc.Communities[0].Token {
		t.Fatalf("after a restart: %+v %+v", s2.Demo.Accounts, s2.Demo.SecondCompany)
	}
}

// portless drops the host from the accounts' code URLs (a restart listens
// on other ports; the codes are the same).
func portless(as []stack.DemoAccount) []stack.DemoAccount {
	out := append([]stack.DemoAccount(nil), as...)
	for i := range out {
		for _, u := range []*string{&out[i].CodeURL, &out[i].WeChatCodeURL} {
			if j := strings.Index(*u, "/c/"); j >= 0 {
				*u = (*u)[j:]
			}
		}
	}
	return out
}
