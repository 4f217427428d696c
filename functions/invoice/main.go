// Command invoice is InvoiceFunction (issue 13, 电子发票): it submits the
// invoices residents asked for to the e-invoice platform (诺诺开放平台,
// shared/einvoice/nuonuo) as soon as they are asked for (InvoicesTable's
// stream), with a schedule as the safety net (rate 1 minute; only the
// invoices the sparse "due" index holds: retries, late results), receives the platform's signed result
// callbacks (POST /notify/einvoice: signature and timestamp verified, the
// invoice moved to ISSUED conditionally, its e-mail sent once through SES),
// and reverses issued invoices when their payment is refunded (红冲; the
// refund events of InvoiceEventsQueue).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"time"

	"github.com/estatepay/estatepay/shared/einvoice/nuonuo"
	"github.com/estatepay/estatepay/shared/invoicing"
	"github.com/estatepay/estatepay/shared/notify/ses"
	"github.com/estatepay/estatepay/shared/platform"
	"github.com/estatepay/estatepay/shared/secrets"
	"github.com/estatepay/estatepay/shared/setup"
	"github.com/estatepay/estatepay/shared/store"
)

func main() {
	ctx := context.Background()
	cfg := platform.MustAWSConfig(ctx)
	st := setup.Store(cfg, "", platform.Env("ORDERS_TABLE"))

	// The platform application's credentials: JSON {"app_key", "app_secret",
	// "access_token"} (read once per cold start; never logged).
	raw, err := secrets.NewLoader(cfg).Load(ctx, platform.Env("EINVOICE_SECRET_REF"))
	if err != nil {
		platform.Fail("e-invoice platform secret", err)
	}
	var nc nuonuo.Config
	if err := json.Unmarshal(raw, &nc); err != nil || nc.AppKey == "" || nc.AppSecret == "" {
		platform.Fail("e-invoice platform secret", errors.New(`not JSON {"app_key", "app_secret", "access_token"}`))
	}
	nc.BaseURL = strings.TrimRight(platform.Env("EINVOICE_API_URL"), "/")
	plat := nuonuo.New(nc, nil, nil)

	mailCfg, err := ses.ConfigFromEnv(os.Getenv)
	if err != nil {
		platform.Fail("e-mail configuration", err)
	}
	mail, err := ses.NewFromConfig(cfg, mailCfg)
	if err != nil {
		platform.Fail("e-mail client", err)
	}
	svc := &invoicing.Service{
		Invoices: &store.Invoices{DB: st.DB, Table: platform.Env("INVOICES_TABLE")}, Orders: st.OrderRepo(),
		Platform: plat, Email: mail, CallbackURL: strings.TrimRight(platform.Env("PUBLIC_BASE_URL"), "/") + "/notify/einvoice",
		Now: time.Now, Log: platform.Logger(),
	}
	h := &Handler{Svc: svc, Platform: plat, Now: time.Now, Log: platform.Logger()}
	platform.Start(h.Handle)
}
