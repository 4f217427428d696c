// Command announce writes the spoken payment announcements (收款播报, issue
// 13): AnnounceEventsQueue (a FIFO copy of every event the relay publishes)
// hands it batches; for each payment.succeeded it writes one announcement
// for the company's cashier console and one for the manager whose code took
// the payment, each at most once per event (a conditional PutItem), into
// AnnouncementsTable, which the console and the managers' app poll. Poison
// messages go to AnnounceEventsDLQ with the reason.
package main

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/estatepay/estatepay/shared/platform"
	"github.com/estatepay/estatepay/shared/setup"
	"github.com/estatepay/estatepay/shared/store"
)

func main() {
	cfg := platform.MustAWSConfig(context.Background())
	table, dir, dlq := platform.Env("ANNOUNCEMENTS_TABLE"), platform.Env("DIRECTORY_TABLE"), platform.Env("ANNOUNCE_DLQ_URL")
	st := setup.Store(cfg, dir, "")
	h := &Handler{
		Store: &store.Announcements{DB: st.DB, Table: table},
		Names: &store.CommunityNames{Store: st},
		Dead:  sqsDeadLetters{client: sqs.NewFromConfig(cfg), url: dlq},
		Clock: time.Now,
		Log:   platform.Logger(),
	}
	platform.Start(h.Handle)
}
