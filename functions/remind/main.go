// Command remind sends the arrears reminders (催缴) on a schedule (daily at
// 10:00 Asia/Shanghai, then hourly until 20:00 to finish what a run left at
// its deadline and retry failed sends): per community whose reminders are on, it Queries
// the BillsTable's sparse `overdue` index for bills owed and due before
// today, groups them by house and reminds each due house (shared/domain/
// reminder: not opted out, has a phone, not reminded within the company's
// period) by official-account template message (a bound openid; SMS on
// 43004/40003) or SMS with its payment notice's pay link, at most once per
// period (one TransactWriteItems claims it), with a signed 退订 link. In the quiet hours (21:00 to
// 08:00) a run sends nothing. On demand locally: the control API's
// POST /schedules/RemindFunction.Remind with {"company","community"}, or
// make remind.
package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"time"

	"github.com/estatepay/estatepay/shared/domain/reminder"
	"github.com/estatepay/estatepay/shared/notify/tencentsms"
	"github.com/estatepay/estatepay/shared/platform"
	"github.com/estatepay/estatepay/shared/secrets"
	"github.com/estatepay/estatepay/shared/setup"
)

func main() {
	ctx := context.Background()
	cfg := platform.MustAWSConfig(ctx)
	st := setup.Store(cfg, "", "")
	st.Bills = platform.Env("BILLS_TABLE")
	smsCfg, err := tencentsms.ConfigFromEnv(os.Getenv)
	if err != nil {
		platform.Fail("SMS configuration", err)
	}
	sms, err := tencentsms.New(smsCfg, secrets.NewLoader(cfg))
	if err != nil {
		platform.Fail("SMS client", err)
	}
	key, err := secrets.NewLoader(cfg).Load(ctx, platform.Env("REMIND_UNSUB_KEY_REF")) // signs the 退订 links
	if err != nil || len(bytes.TrimSpace(key)) < reminder.MinUnsubKeyLen {
		platform.Fail("reminder unsubscribe key", fmt.Errorf("want at least %d bytes: %v", reminder.MinUnsubKeyLen, err))
	}
	// The platform's official account (optional: NOTIFY_WECHAT_APP_ID empty
	// or no template id, every reminder goes by SMS): the console's OAuth
	// secret of the same account, the access token shared with
	// FanoutFunction in the AccessTable.
	var oa OASender
	oaTemplate := os.Getenv("REMIND_WECHAT_TEMPLATE_ID")
	if appID := os.Getenv("NOTIFY_WECHAT_APP_ID"); appID != "" && oaTemplate != "" {
		st.Access = platform.Env("ACCESS_TABLE")
		c, err := setup.OAClient(ctx, secrets.NewLoader(cfg), appID, platform.Env("NOTIFY_WECHAT_SECRET_REF"), platform.Env("WECHAT_API_BASE_URL"), st.NotificationRepo())
		if err != nil {
			platform.Fail("official account secret", err)
		}
		oa = c
	}
	h := &Handler{
		OA:            oa,
		OATemplateID:  oaTemplate,
		Reminders:     st.ReminderRepo(),
		Houses:        st.HouseRepo(),
		Notices:       st.HouseRepo(),
		SMS:           sms,
		SMSTemplateID: platform.Env("REMIND_SMS_TEMPLATE_ID"),
		BaseURL:       platform.Env("PUBLIC_BASE_URL"),
		UnsubKey:      bytes.TrimSpace(key),
		Clock:         setup.RemindClock(os.Getenv("REMIND_CLOCK_FILE")),
		Log:           platform.Logger(),
		Margin:        5 * time.Second,
	}
	platform.Start(h.Handle)
}
