// Command stats keeps the dashboard's aggregates: StatsEventsQueue (a FIFO
// copy of every order event the relay publishes) hands it batches of up to
// 10 events, and it counts each payment.succeeded and refund.succeeded once
// per company × community × business day × channel in StatsTable.
package main

import (
	"context"

	"github.com/estatepay/estatepay/shared/platform"
	"github.com/estatepay/estatepay/shared/setup"
	"github.com/estatepay/estatepay/shared/store"
)

func main() {
	cfg := platform.MustAWSConfig(context.Background())
	st := setup.Store(cfg, "", "") // no directory or orders access: only the DynamoDB client
	h := &Handler{Stats: &store.Stats{DB: st.DB, Table: platform.Env("STATS_TABLE")}, Log: platform.Logger()}
	platform.Start(h.Handle)
}
