// Command admin is the management API: collection records per community (C7).
// Authentication is a bearer token held in a secret (ADMIN_TOKEN_REF).
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/estatepay/estatepay/shared/platform"
	"github.com/estatepay/estatepay/shared/setup"
)

func main() {
	d, err := setup.FromEnv(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, "admin: init:", err)
		os.Exit(1)
	}
	h := &Handler{Store: d.Store, Secrets: d.Secrets, TokenRef: platform.Env("ADMIN_TOKEN_REF"), Log: d.Log}
	platform.Start(h.Handle)
}
