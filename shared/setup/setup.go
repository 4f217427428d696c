// Package setup builds, once per cold start, the dependencies a function needs
// from its environment (the variables template.yaml gives it): the AWS clients,
// the store, the provider registry and the payments service.
package setup

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/estatepay/estatepay/shared/pay/providers"
	"github.com/estatepay/estatepay/shared/payments"
	"github.com/estatepay/estatepay/shared/platform"
	"github.com/estatepay/estatepay/shared/secrets"
	"github.com/estatepay/estatepay/shared/store"
)

// Deps is what the functions share.
type Deps struct {
	AWS       aws.Config
	Log       *slog.Logger
	Store     *store.Store
	Secrets   *secrets.Loader
	Providers *providers.Registry
	Payments  *payments.Service
}

// FromEnv builds Deps. Optional variables that a function's template entry does
// not set stay empty and the parts needing them are unusable by design.
func FromEnv(ctx context.Context) (*Deps, error) {
	cfg, err := platform.AWSConfig(ctx)
	if err != nil {
		return nil, err
	}
	d := &Deps{AWS: cfg, Log: platform.Logger()}
	d.Store = &store.Store{
		DB:        dynamodb.NewFromConfig(cfg),
		Directory: platform.EnvOr("DIRECTORY_TABLE", ""),
		Orders:    platform.EnvOr("ORDERS_TABLE", ""),
	}
	d.Secrets = secrets.NewLoader(cfg)
	httpClient := &http.Client{Timeout: 8 * time.Second}
	d.Providers = &providers.Registry{
		Secrets:          d.Secrets,
		HTTPClient:       httpClient,
		WeChatPayBaseURL: platform.EnvOr("WECHATPAY_BASE_URL", ""),
		WeChatOpenBase:   platform.EnvOr("WECHAT_OPEN_BASE_URL", ""),
		WeChatAPIBase:    platform.EnvOr("WECHAT_API_BASE_URL", ""),
		AlipayGatewayURL: platform.EnvOr("ALIPAY_GATEWAY_URL", ""),
	}
	d.Payments = &payments.Service{
		Orders:        d.Store.OrderRepo(),
		Directory:     d.Store,
		Providers:     d.Providers,
		Log:           d.Log,
		PublicBaseURL: platform.EnvOr("PUBLIC_BASE_URL", ""),
		MaxAmountFen:  platform.EnvInt64("MAX_AMOUNT_FEN", 5_000_000),
	}
	return d, nil
}
