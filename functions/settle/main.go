// Command settle runs T+1 settlement and reconciliation (S1–S3). Daily on
// its schedule (Asia/Shanghai, 10:30, after the providers publish their
// bills) it plans: one SettleQueue message per approved interface × the
// previous business day. The queue's event source mapping hands the
// messages back to it, and it settles and reconciles one interface × day
// per message, stopping at a checkpoint before the Lambda deadline and
// resuming on the next delivery. On demand (a day, a company, an interface:
// see Input) it settles synchronously and answers the report.
package main

import (
	"context"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/estatepay/estatepay/shared/domain/fenfu"
	dsettle "github.com/estatepay/estatepay/shared/domain/settlement"
	"github.com/estatepay/estatepay/shared/payments"
	"github.com/estatepay/estatepay/shared/platform"
	"github.com/estatepay/estatepay/shared/secrets"
	"github.com/estatepay/estatepay/shared/settlement"
	"github.com/estatepay/estatepay/shared/setup"
	"github.com/estatepay/estatepay/shared/store"
)

func main() {
	cfg := platform.MustAWSConfig(context.Background())
	st := setup.Store(cfg, platform.Env("DIRECTORY_TABLE"), platform.Env("ORDERS_TABLE"))
	st.Bills = platform.Env("BILLS_TABLE") // a repaired notice payment pays its bills
	prov := setup.Providers(secrets.NewLoader(cfg), setup.ProviderURLs{WeChatPay: platform.Env("WECHATPAY_BASE_URL"), AlipayGateway: platform.Env("ALIPAY_GATEWAY_URL")})
	svc := &payments.Service{Orders: st.OrderRepo(), Directory: store.NewCachedDirectory(st, nil), Providers: prov, Billing: st.LedgerRepo(), Log: platform.Logger(),
		PublicBaseURL: platform.Env("PUBLIC_BASE_URL")} // an automatic refund's notify_url
	repo := &store.Settlements{DB: st.DB, Table: platform.Env("STATS_TABLE")}
	schedule := dsettle.DefaultSchedule()
	h := &Handler{
		Directory: st, Providers: prov, Payments: svc, Clock: time.Now, Log: svc.Log, Metrics: os.Stdout,
		Queue:      SQSQueue{Client: sqs.NewFromConfig(cfg), URL: platform.Env("SETTLE_QUEUE_URL")},
		Settler:    &settlement.Settler{Orders: st.OrderRepo(), Repo: repo, Schedule: schedule, Holds: repo.Holds},
		Reconciler: &settlement.Reconciler{Orders: st.OrderRepo(), Exceptions: repo, Schedule: schedule, Clock: time.Now},
		Notify:     SQSExceptions{Client: sqs.NewFromConfig(cfg), QueueURL: platform.Env("NOTIFY_QUEUE_URL")},
		// 分付's risk holds end after 48 h (F4, S3)
		ReleaseHolds: (&payments.Fenfu{Settlements: repo, Limits: fenfu.DefaultLimits()}).ReleaseDue,
	}
	platform.Start(h.Handle)
}
