// Command admin is the property companies' console: the pages under /admin
// and the JSON API under /admin/api, behind server-side sessions (the
// ep_session cookie, shared/accounts).
package main

import (
	"context"
	"time"

	"github.com/estatepay/estatepay/shared/bills"
	"github.com/estatepay/estatepay/shared/dyncode"
	"github.com/estatepay/estatepay/shared/payments"
	"github.com/estatepay/estatepay/shared/platform"
	"github.com/estatepay/estatepay/shared/secrets"
	"github.com/estatepay/estatepay/shared/setup"
	"github.com/estatepay/estatepay/shared/store"
)

func main() {
	cfg := platform.MustAWSConfig(context.Background())
	log := platform.Logger()
	st := setup.Store(cfg, platform.Env("DIRECTORY_TABLE"), platform.Env("ORDERS_TABLE"))
	st.Access = platform.Env("ACCESS_TABLE")
	st.Bills = platform.Env("BILLS_TABLE")
	sec := secrets.NewLoader(cfg)
	base := platform.Env("PUBLIC_BASE_URL")
	// Refunds only: RequestRefund and OrderRefunds. No provider registry —
	// the console holds no merchant keys; the sweeper submits refunds.
	pays := &payments.Service{Orders: st.OrderRepo(), Billing: st.LedgerRepo(), Directory: st, Log: log, Now: time.Now}
	acc := accountsService(cfg, st, sec, log)
	dyn, err := dyncode.LoadSigner(context.Background(), sec, platform.Env("DYNCODE_KEY_REF")) // the screen code's minute tokens (F7)
	if err != nil {
		platform.Fail("dyncode key", err)
	}
	h := &Handler{
		Store:     st,
		Accounts:  acc,
		Secrets:   secrets.NewWriter(cfg, platform.Env("SECRETS_BASE")),
		Codes:     codeViews{prints: &CodePrints{Directory: st, PublicBaseURL: base, Log: log}},
		Records:   recordViews{records: &Records{Directory: st, Orders: st.OrderRepo(), Log: log, Now: time.Now}},
		Dashboard: dashboardViews{dash: &Dashboard{Stats: &store.Stats{DB: st.DB, Table: platform.Env("STATS_TABLE")}, Communities: st.ListCommunities}, now: time.Now},
		Cashier: &bills.Desk{Entries: st.CashierRepo(), Houses: st.HouseRepo(), Bills: st.BillRepo(), Payments: st.OrderRepo(),
			NewID: func() string { return newID("ce") }, Now: time.Now},
		Refunds:       pays,
		Settlements:   &store.Settlements{DB: st.DB, Table: platform.Env("STATS_TABLE")},
		FenfuRisk:     setup.FenfuStore(cfg, st, sec), // read in full by risk officers (FenfuView)
		Notices:       &Notices{Houses: st.HouseRepo(), Bills: st.BillRepo(), PublicBaseURL: base, Now: time.Now},
		Invoices:      &store.Invoices{DB: st.DB, Table: platform.Env("INVOICES_TABLE")},
		Managers:      &ManagerApp{Store: st, Orders: st.OrderRepo(), Refunds: pays, PublicBaseURL: base, Now: time.Now},
		WeChatLogin:   wechatLogin(sec),
		Screen:        Screen{Signer: dyn},
		PublicBaseURL: base,
		MaxAmountFen:  platform.EnvInt64("MAX_AMOUNT_FEN", 5_000_000),
		Log:           log,
	}
	h.OA = officialAccount(acc, h.WeChatLogin, st, base)
	h.Announcements = &store.Announcements{DB: st.DB, Table: platform.Env("ANNOUNCEMENTS_TABLE")} // 收款播报 (announce.go)
	platform.Start(h.Handle)
}
