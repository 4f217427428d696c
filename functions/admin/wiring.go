package main

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/estatepay/estatepay/shared/accounts"
	"github.com/estatepay/estatepay/shared/notify/ses"
	"github.com/estatepay/estatepay/shared/notify/tencentsms"
	"github.com/estatepay/estatepay/shared/pay/wechatpay"
	"github.com/estatepay/estatepay/shared/platform"
	"github.com/estatepay/estatepay/shared/secrets"
	"github.com/estatepay/estatepay/shared/store"
)

// accountsService builds the accounts service on the AccessTable, sending
// sign-in codes through Tencent Cloud SMS and set-password links through
// Amazon SES (locally: the outbox sandbox). Missing configuration fails the
// cold start.
func accountsService(cfg aws.Config, st *store.Store, sec *secrets.Loader, log *slog.Logger) *accounts.Service {
	smsCfg, err := tencentsms.ConfigFromEnv(os.Getenv)
	if err != nil {
		platform.Fail("SMS configuration", err)
	}
	sms, err := tencentsms.New(smsCfg, sec)
	if err != nil {
		platform.Fail("SMS client", err)
	}
	mailCfg, err := ses.ConfigFromEnv(os.Getenv)
	if err != nil {
		platform.Fail("e-mail configuration", err)
	}
	mail, err := ses.NewFromConfig(cfg, mailCfg)
	if err != nil {
		platform.Fail("e-mail client", err)
	}
	return &accounts.Service{
		Repo: st.AccessRepo(), SMS: sms, Email: mail, Companies: companies{st}, Log: log,
		PublicBaseURL: platform.Env("PUBLIC_BASE_URL"), SMSTemplateID: platform.Env("TENCENT_SMS_CODE_TEMPLATE_ID"),
	}
}

// companies names property companies for the accounts service.
type companies struct{ st *store.Store }

func (c companies) CompanyName(ctx context.Context, id string) (string, error) {
	co, err := c.st.GetCompany(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return "", accounts.ErrNotFound
	}
	return co.Name, err
}

// wechatLogin is the console's official-account OAuth when CONSOLE_WECHAT_APP_ID
// is set (its app secret under CONSOLE_WECHAT_OAUTH_SECRET_REF, JSON
// {"oauth_app_secret"}), else nil: logins then carry no WeChat identity.
func wechatLogin(sec *secrets.Loader) WeChatLogin {
	appID := os.Getenv("CONSOLE_WECHAT_APP_ID")
	if appID == "" {
		return nil
	}
	raw, err := sec.Load(context.Background(), platform.Env("CONSOLE_WECHAT_OAUTH_SECRET_REF"))
	if err != nil {
		platform.Fail("console WeChat OAuth secret", err)
	}
	var s struct {
		Secret string `json:"oauth_app_secret"`
	}
	if err := json.Unmarshal(raw, &s); err != nil || s.Secret == "" {
		platform.Fail("console WeChat OAuth secret", errors.New(`not JSON {"oauth_app_secret": "…"}`))
	}
	return wechatpay.OAuth{AppID: appID, Secret: s.Secret, OpenBaseURL: platform.Env("WECHAT_OPEN_BASE_URL"),
		APIBaseURL: platform.Env("WECHAT_API_BASE_URL"), HTTPClient: &http.Client{Timeout: 5 * time.Second}}
}
