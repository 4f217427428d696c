package alipay_test

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	sdk "github.com/smartwalle/alipay/v3"

	sandbox "github.com/estatepay/estatepay/infra/sandbox/alipay"
	"github.com/estatepay/estatepay/shared/pay"
	"github.com/estatepay/estatepay/shared/pay/alipay"
)

func TestISVAppAuthToken(t *testing.T) {
	const isvApp = "2021000000000002"
	e := newEnv(t, func(c *sandbox.Config) {
		c.Apps = append(c.Apps, sandbox.App{AppID: isvApp, PublicKey: &appKey.PublicKey, SellerID: "2088000000000099",
			AuthAppID: "2021000000000077", AuthTokens: []string{"202503BB1234567890"}})
	})
	ctx := context.Background()
	good := e.provider(t, alipay.Config{AppID: isvApp, AppAuthToken: "202503BB1234567890", SellerID: "2088000000000099", AuthAppID: "2021000000000077"})
	if tr, err := good.Query(ctx, "ORD-ISV"); err != nil || tr.State != pay.TradeNotFound {
		t.Fatalf("Query with the right token = %+v, %v", tr, err)
	}
	for _, tok := range []string{"202503BBwrong", ""} {
		authApp := "2021000000000077"
		if tok == "" {
			authApp = ""
		}
		bad := e.provider(t, alipay.Config{AppID: isvApp, AppAuthToken: tok, SellerID: "2088000000000099", AuthAppID: authApp})
		_, err := bad.Query(ctx, "ORD-ISV")
		if !errors.Is(err, pay.ErrProvider) || alipay.SubCode(err) != "aop.invalid-app-auth-token" {
			t.Fatalf("token %q: Query err = %v", tok, err)
		}
		res, err := bad.Prepay(ctx, pay.PrepayRequest{OrderID: "ORD-ISV", AmountFen: 1, Description: "x", NotifyURL: e.notifyURL})
		if err != nil {
			t.Fatal(err)
		}
		if page, ticket := e.openCashier(t, res.RedirectURL); ticket != "" || !strings.Contains(page, "aop.invalid-app-auth-token") {
			t.Fatalf("token %q opened a cashier: %s", tok, page)
		}
	}
	// The token is carried on the wap URL too.
	res, err := good.Prepay(ctx, pay.PrepayRequest{OrderID: "ORD-ISV", AmountFen: 1, Description: "x", NotifyURL: e.notifyURL})
	if err != nil {
		t.Fatal(err)
	}
	if _, ticket := e.openCashier(t, res.RedirectURL); ticket == "" {
		t.Fatal("right token did not open the cashier")
	}
}

func TestBadAppSignatureRejected(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	rogue := e.provider(t, alipay.Config{PrivateKey: privatePEM(t, rogueKey)})
	_, err := rogue.Query(ctx, "ORD-1")
	if !errors.Is(err, pay.ErrProvider) || alipay.SubCode(err) != "isv.invalid-signature" {
		t.Fatalf("rogue-key Query err = %v", err)
	}
	// The SDK itself reports an error (the gateway does not sign it).
	client, err := sdk.New(testAppID, privatePEM(t, rogueKey), true, sdk.WithProductionGateway(e.gw.URL+"/gateway.do"))
	if err != nil {
		t.Fatal(err)
	}
	if err := client.LoadAliPayPublicKey(publicPEM(t, &alipayKey.PublicKey)); err != nil {
		t.Fatal(err)
	}
	if _, err := client.TradeQuery(ctx, sdk.TradeQuery{OutTradeNo: "ORD-1"}); err == nil {
		t.Fatal("SDK accepted a response to a badly signed request")
	}
	// Unknown app.
	if _, err := e.provider(t, alipay.Config{AppID: "2021000000009999"}).Query(ctx, "ORD-1"); alipay.SubCode(err) != "isv.invalid-app-id" {
		t.Fatalf("unknown app err = %v", err)
	}
	// Responses signed by someone else are rejected by the adapter.
	wrongPub := e.provider(t, alipay.Config{AlipayPublicKey: publicPEM(t, &rogueKey.PublicKey)})
	if _, err := wrongPub.Query(ctx, "ORD-1"); !errors.Is(err, pay.ErrProvider) {
		t.Fatalf("forged response accepted: %v", err)
	}
	// A bad app signature on the wap URL shows Alipay's error page.
	res, err := rogue.Prepay(ctx, pay.PrepayRequest{OrderID: "ORD-1", AmountFen: 1, Description: "x", NotifyURL: e.notifyURL})
	if err != nil {
		t.Fatal(err)
	}
	if page, ticket := e.openCashier(t, res.RedirectURL); ticket != "" || !strings.Contains(page, "isv.invalid-signature") {
		t.Fatalf("bad signature opened a cashier: %s", page)
	}
}

func TestNewAcceptsRawBase64Keys(t *testing.T) {
	e := newEnv(t)
	der, err := x509.MarshalPKCS8PrivateKey(appKey)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := x509.MarshalPKIXPublicKey(&alipayKey.PublicKey)
	p := e.provider(t, alipay.Config{PrivateKey: base64.StdEncoding.EncodeToString(der), AlipayPublicKey: base64.StdEncoding.EncodeToString(pub)})
	if tr, err := p.Query(context.Background(), "ORD-X"); err != nil || tr.State != pay.TradeNotFound {
		t.Fatalf("Query = %+v, %v", tr, err)
	}
	if _, err := alipay.New(alipay.Config{AppID: testAppID, PrivateKey: "not a key", AlipayPublicKey: "x"}); err == nil || strings.Contains(err.Error(), "not a key") {
		t.Fatalf("New with a bad key = %v", err)
	}
}
