// Command wechat-notify receives WeChat Pay v3 payment callbacks: it verifies
// the signature and timestamp, decrypts the resource, checks merchant, app and
// amount against the order, and marks it paid once; the table's stream carries
// the event.
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
	sec := secrets.NewLoader(cfg)
	prov := setup.Providers(sec, setup.ProviderURLs{WeChatPay: platform.Env("WECHATPAY_BASE_URL")})
	svc := &payments.Service{Orders: st.OrderRepo(), Directory: store.NewCachedDirectory(st, nil), Providers: prov, Billing: st.LedgerRepo(), Log: platform.Logger(),
		Fenfu: setup.Fenfu(st, setup.FenfuStore(cfg, st, sec), platform.Env("STATS_TABLE"))} // a paid 分付 payment: three in a row, the 48 h hold
	h := &Handler{Payments: svc}
	platform.Start(h.Handle)
}
