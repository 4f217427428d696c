// Command alipay-notify receives Alipay async notifications: it verifies the
// RSA2 signature, checks seller, app and amount against the order, marks it
// paid once and answers success; the table's stream carries the event.
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
	prov := setup.Providers(secrets.NewLoader(cfg), setup.ProviderURLs{AlipayGateway: platform.Env("ALIPAY_GATEWAY_URL")})
	svc := &payments.Service{Orders: st.OrderRepo(), Directory: store.NewCachedDirectory(st, nil), Providers: prov, Billing: st.LedgerRepo(), Log: platform.Logger()}
	h := &Handler{Payments: svc}
	platform.Start(h.Handle)
}
