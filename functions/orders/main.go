// Command orders serves POST /api/orders (idempotent order creation with the
// provider's prepay) and GET /api/orders/{id} (order status for the result page).
package main

import (
	"context"

	"github.com/estatepay/estatepay/shared/dyncode"
	"github.com/estatepay/estatepay/shared/payments"
	"github.com/estatepay/estatepay/shared/platform"
	"github.com/estatepay/estatepay/shared/secrets"
	"github.com/estatepay/estatepay/shared/setup"
	"github.com/estatepay/estatepay/shared/store"
	"github.com/estatepay/estatepay/shared/web"
)

func main() {
	ctx := context.Background()
	cfg := platform.MustAWSConfig(ctx)
	sec := secrets.NewLoader(cfg)
	st := setup.Store(cfg, platform.Env("DIRECTORY_TABLE"), platform.Env("ORDERS_TABLE"))
	st.Bills = platform.Env("BILLS_TABLE") // notice payments pay bills; refunds reopen them
	prov := setup.Providers(sec, setup.ProviderURLs{WeChatPay: platform.Env("WECHATPAY_BASE_URL"), AlipayGateway: platform.Env("ALIPAY_GATEWAY_URL")})
	key, err := web.LoadPayerKey(ctx, sec, platform.Env("PAYER_COOKIE_KEY_REF")) // verifies the WeChat payer cookie (bug 9)
	if err != nil {
		platform.Fail("payer cookie key", err)
	}
	dyn, err := dyncode.LoadSigner(ctx, sec, platform.Env("DYNCODE_KEY_REF")) // screen codes' minute tokens (F7)
	if err != nil {
		platform.Fail("dyncode key", err)
	}
	dir := store.NewCachedDirectory(st, nil)
	svc := &payments.Service{Orders: st.OrderRepo(), Directory: dir, Providers: prov, Billing: st.LedgerRepo(), Log: platform.Logger(),
		PublicBaseURL: platform.Env("PUBLIC_BASE_URL"), MaxAmountFen: platform.EnvInt64("MAX_AMOUNT_FEN", 5_000_000),
		Fenfu: setup.Fenfu(st, setup.FenfuStore(cfg, st, sec), "")} // 分付: exposure, night window, daily limit
	h := &Handler{Payments: svc, Payers: web.PayerCookies{Key: key}, Dyn: dyn, Codes: dir, Log: svc.Log}
	platform.Start(h.Handle)
}
