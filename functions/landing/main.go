// Command landing is the scan landing function: GET /c/{token} (C2, C3, C4 and the
// WeChat OAuth round trip), GET /c/{token}/orders/{id} (result page), GET /healthz.
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
		fmt.Fprintln(os.Stderr, "landing: init:", err)
		os.Exit(1)
	}
	h := &Handler{
		Store:         d.Store,
		OAuth:         d.Providers,
		Log:           d.Log,
		PublicBaseURL: platform.Env("PUBLIC_BASE_URL"),
		MaxAmountFen:  platform.EnvInt64("MAX_AMOUNT_FEN", 5_000_000),
	}
	platform.Start(h.Handle)
}
