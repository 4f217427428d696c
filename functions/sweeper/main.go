// Command sweeper runs on a schedule: it asks the providers about unpaid orders
// whose next check is due (late or missing callbacks), applies paid and
// refunded trades, closes expired orders and pushes the rest back.
package main

import (
	"context"

	"github.com/estatepay/estatepay/shared/payments"
	"github.com/estatepay/estatepay/shared/platform"
	"github.com/estatepay/estatepay/shared/secrets"
	"github.com/estatepay/estatepay/shared/setup"
	"github.com/estatepay/estatepay/shared/store"
)

func main() {
	cfg := platform.MustAWSConfig(context.Background())
	st := setup.Store(cfg, platform.Env("DIRECTORY_TABLE"), platform.Env("ORDERS_TABLE"))
	st.Bills = platform.Env("BILLS_TABLE") // notice payments pay bills; refunds reopen them
	prov := setup.Providers(secrets.NewLoader(cfg), setup.ProviderURLs{WeChatPay: platform.Env("WECHATPAY_BASE_URL"), AlipayGateway: platform.Env("ALIPAY_GATEWAY_URL")})
	svc := &payments.Service{Orders: st.OrderRepo(), Directory: store.NewCachedDirectory(st, nil), Providers: prov, Billing: st.LedgerRepo(), Log: platform.Logger(),
		PublicBaseURL: platform.Env("PUBLIC_BASE_URL")} // refunds' notify_url
	h := &Handler{Payments: svc, Log: svc.Log}
	platform.Start(h.Handle)
}
