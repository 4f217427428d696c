// Command sweeper runs on a schedule: it queries the provider for orders whose
// callbacks are late or missing, closes expired ones, and re-sends payment events
// that never went out.
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
		fmt.Fprintln(os.Stderr, "sweeper: init:", err)
		os.Exit(1)
	}
	h := &Handler{Payments: d.Payments, Log: d.Log}
	platform.Start(h.Handle)
}
