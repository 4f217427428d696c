// Command orders is the orders function: POST /api/orders creates an order
// idempotently and prepays it at the provider; GET /api/orders/{id} reports its
// status to the payer's page.
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
		fmt.Fprintln(os.Stderr, "orders: init:", err)
		os.Exit(1)
	}
	h := &Handler{Payments: d.Payments, Store: d.Store, Log: d.Log}
	platform.Start(h.Handle)
}
