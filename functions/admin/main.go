// Command admin is the property companies' console: the pages under /admin
// and the JSON API under /admin/api, behind server-side sessions (the
// ep_session cookie, shared/accounts).
package main

import (
	"context"

	"github.com/estatepay/estatepay/shared/platform"
	"github.com/estatepay/estatepay/shared/secrets"
	"github.com/estatepay/estatepay/shared/setup"
)

func main() {
	cfg := platform.MustAWSConfig(context.Background())
	st := setup.Store(cfg, platform.Env("DIRECTORY_TABLE"), platform.Env("ORDERS_TABLE"))
	h := &Handler{
		Store:         st,
		Accounts:      accountsService(cfg),
		Secrets:       secrets.NewWriter(cfg, platform.Env("SECRETS_BASE")),
		PublicBaseURL: platform.Env("PUBLIC_BASE_URL"),
		MaxAmountFen:  platform.EnvInt64("MAX_AMOUNT_FEN", 5_000_000),
		Log:           platform.Logger(),
	}
	platform.Start(h.Handle)
}
