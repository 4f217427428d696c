// Command admin is the management API: collection records per community (C7).
// Authentication is a bearer token held in a secret (ADMIN_TOKEN_REF).
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
	h := &Handler{Store: st, Secrets: secrets.NewLoader(cfg), TokenRef: platform.Env("ADMIN_TOKEN_REF"), Log: platform.Logger()}
	platform.Start(h.Handle)
}
