// Command fanout tells staff about payments (M7). NotifyEventsQueue (a
// FIFO copy of every order and refund event the relay publishes, and
// SettleFunction's settlement.exceptions) hands it batches of events; for
// each payment.succeeded it finds the staff of the company who opted in
// (接收收款成功通知) for the payment's community and sends each one a
// message on the channel they chose (WeChat official-account template
// message, SMS or e-mail), at most one per recipient per 10 minutes: the
// payments in between are held back and sent as a digest when the window
// ends, by the same function's flush, run every minute. A refund.failed or
// settlement.exceptions goes to every admin of the company at once.
// Failures are retried with backoff (ChangeMessageVisibility); poison,
// misconfiguration and the last allowed receive go to NotifyEventsDLQ with
// the reason.
package main

import (
	"context"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/estatepay/estatepay/shared/notify"
	"github.com/estatepay/estatepay/shared/notify/ses"
	"github.com/estatepay/estatepay/shared/notify/tencentsms"
	"github.com/estatepay/estatepay/shared/notify/wechatoa"
	"github.com/estatepay/estatepay/shared/platform"
	"github.com/estatepay/estatepay/shared/secrets"
	"github.com/estatepay/estatepay/shared/setup"
	"github.com/estatepay/estatepay/shared/store"
)

func main() {
	ctx := context.Background()
	cfg := platform.MustAWSConfig(ctx)
	st := setup.Store(cfg, platform.Env("DIRECTORY_TABLE"), "")
	st.Access = platform.Env("ACCESS_TABLE")
	notes := st.NotificationRepo()

	// The official account (optional: without it the channel reports a
	// problem): its app secret (JSON {"oauth_app_secret"}, the console's OAuth
	// secret of the same account) is read once per cold start.
	var oa *wechatoa.Client
	if appID := os.Getenv("NOTIFY_WECHAT_APP_ID"); appID != "" {
		c, err := setup.OAClient(ctx, secrets.NewLoader(cfg), appID, platform.Env("NOTIFY_WECHAT_SECRET_REF"), platform.Env("WECHAT_API_BASE_URL"), notes)
		if err != nil {
			platform.Fail("official account secret", err)
		}
		oa = c
	}

	mailCfg, err := ses.ConfigFromEnv(os.Getenv)
	if err != nil {
		platform.Fail("e-mail configuration", err)
	}
	mail, err := ses.NewFromConfig(cfg, mailCfg)
	if err != nil {
		platform.Fail("e-mail client", err)
	}

	// SMS, when a payment template is approved (NOTIFY_SMS_TEMPLATE_ID).
	var sms notify.SMS
	smsTemplate := os.Getenv("NOTIFY_SMS_TEMPLATE_ID")
	if smsTemplate != "" {
		smsCfg, err := tencentsms.ConfigFromEnv(os.Getenv)
		if err != nil {
			platform.Fail("SMS configuration", err)
		}
		client, err := tencentsms.New(smsCfg, secrets.NewLoader(cfg))
		if err != nil {
			platform.Fail("SMS client", err)
		}
		sms = client
	}

	base := platform.Env("PUBLIC_BASE_URL")
	h := &Handler{
		Store: notes,
		Staff: st.AccessRepo(),
		Names: &store.CommunityNames{Store: st},
		Sender: &Delivery{OA: oa, OATemplateID: os.Getenv("NOTIFY_WECHAT_TEMPLATE_ID"),
			OALinkURL: base + "/admin/records", BaseURL: base, SMS: sms, SMSTemplateID: smsTemplate, Email: mail},
		Queue:       SQSQueue{Client: sqs.NewFromConfig(cfg), QueueURL: platform.Env("NOTIFY_QUEUE_URL"), DLQURL: platform.Env("NOTIFY_DLQ_URL")},
		MaxReceives: int(platform.EnvInt64("NOTIFY_MAX_RECEIVES", 5)),
		Clock:       time.Now,
		Log:         platform.Logger(),
	}
	platform.Start(h.Handle)
}
