package setup

import (
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/estatepay/estatepay/shared/fieldcrypt"
	"github.com/estatepay/estatepay/shared/secrets"
	"strings"
	"time"

	"github.com/estatepay/estatepay/shared/domain/fenfu"
	"github.com/estatepay/estatepay/shared/payments"
	"github.com/estatepay/estatepay/shared/platform"
	"github.com/estatepay/estatepay/shared/store"
)

// FenfuStore is FenfuTable (FENFU_TABLE) with its sensitive fields sealed
// (F6): the payer's openid under the key FENFU_KEY_REF names (`kms:<key>` or
// a keyring secret reference, shared/fieldcrypt), checked at cold start.
func FenfuStore(cfg aws.Config, st *store.Store, sec *secrets.Loader) *store.Fenfu {
	sealer, err := fieldcrypt.FromConfig(cfg, platform.Env(fieldcrypt.EnvKeyRef), sec.Load)
	if err != nil {
		platform.Fail("分付 field key", err)
	}
	return &store.Fenfu{DB: st.DB, Table: platform.Env("FENFU_TABLE"), Sealer: sealer}
}

// Fenfu is the 分付 rules (F4, F5) of a function that takes or confirms
// payments: on the 分付 store (FenfuStore), with the payer history of the
// store's orders, holds in statsTable ("" for none), the limits from the
// environment (FENFU_NIGHT_LARGE_FEN, FENFU_DAILY_FEN, FENFU_HOLD_ABOVE_FEN;
// defaults fenfu.DefaultLimits).
func Fenfu(st *store.Store, ff *store.Fenfu, statsTable string) *payments.Fenfu {
	l := fenfu.DefaultLimits()
	l.NightLargeFen = platform.EnvInt64("FENFU_NIGHT_LARGE_FEN", l.NightLargeFen)
	l.DailyFen = platform.EnvInt64("FENFU_DAILY_FEN", l.DailyFen)
	l.HoldAboveFen = platform.EnvInt64("FENFU_HOLD_ABOVE_FEN", l.HoldAboveFen)
	f := &payments.Fenfu{Store: ff, History: st.OrderRepo(), Orders: st.OrderRepo(),
		Limits: l, Now: riskClock(os.Getenv("FENFU_CLOCK_FILE"))}
	if statsTable != "" {
		f.Settlements = &store.Settlements{DB: st.DB, Table: statsTable}
	}
	return f
}

// riskClock is the wall clock, moved by the duration written in path when
// the local stack sets FENFU_CLOCK_FILE (its risk clock control, for the
// demo's night-time payment; never set in a deployment).
func riskClock(path string) func() time.Time {
	if path == "" {
		return time.Now
	}
	return func() time.Time {
		b, err := os.ReadFile(path)
		if err != nil {
			return time.Now()
		}
		d, err := time.ParseDuration(strings.TrimSpace(string(b)))
		if err != nil {
			return time.Now()
		}
		return time.Now().Add(d)
	}
}
