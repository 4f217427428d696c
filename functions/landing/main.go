// Command landing is the scan landing function: GET /c/{token} (C2, C3, C4 and the
// WeChat OAuth round trip), GET /c/{token}/orders/{id} (result page), GET /healthz.
package main

import (
	"context"

	"github.com/estatepay/estatepay/shared/platform"
	"github.com/estatepay/estatepay/shared/secrets"
	"github.com/estatepay/estatepay/shared/setup"
)

func main() {
	cfg := platform.MustAWSConfig(context.Background())
	st := setup.Store(cfg, platform.Env("DIRECTORY_TABLE"), "")
	prov := setup.Providers(secrets.NewLoader(cfg), setup.ProviderURLs{WeChatOpen: platform.Env("WECHAT_OPEN_BASE_URL"), WeChatAPI: platform.Env("WECHAT_API_BASE_URL")})
	h := &Handler{Store: st, OAuth: prov, Log: platform.Logger(), PublicBaseURL: platform.Env("PUBLIC_BASE_URL"), MaxAmountFen: platform.EnvInt64("MAX_AMOUNT_FEN", 5_000_000)}
	platform.Start(h.Handle)
}
