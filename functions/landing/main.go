// Command landing is the scan landing function: GET /c/{token} (C2, C3, C4 and the
// WeChat OAuth round trip), GET /c/{token}/orders/{id} (the receipt), GET /healthz,
// GET /n/{id} and /n/{id}/orders/{oid} (a payment notice's pay page and
// receipt, C6), GET /c/{token}/history and /n/{id}/history (我的缴费记录,
// X4, with the WeChat or Alipay OAuth round trip), GET and POST /u/{token}
// (the arrears reminders' 退订 link), and the Chinese 404 for
// every other route ($default).
package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/estatepay/estatepay/shared/domain/reminder"
	"github.com/estatepay/estatepay/shared/dyncode"
	"github.com/estatepay/estatepay/shared/invoicing"
	"github.com/estatepay/estatepay/shared/payments"
	"github.com/estatepay/estatepay/shared/platform"
	"github.com/estatepay/estatepay/shared/secrets"
	"github.com/estatepay/estatepay/shared/setup"
	"github.com/estatepay/estatepay/shared/store"
	"github.com/estatepay/estatepay/shared/web"
)

func main() {
	ctx := context.Background()
	go web.Prepare() // template analysis overlaps the first request's directory reads
	cfg := platform.MustAWSConfig(ctx)
	sec := secrets.NewLoader(cfg)
	st := setup.Store(cfg, platform.Env("DIRECTORY_TABLE"), platform.Env("ORDERS_TABLE"))
	st.Bills = platform.Env("BILLS_TABLE")
	dir := store.NewCachedDirectory(st, nil)
	prov := setup.Providers(sec, setup.ProviderURLs{WeChatOpen: platform.Env("WECHAT_OPEN_BASE_URL"), WeChatAPI: platform.Env("WECHAT_API_BASE_URL"),
		AlipayGateway: platform.Env("ALIPAY_GATEWAY_URL"), AlipayAuthorize: platform.Env("ALIPAY_AUTHORIZE_URL")})
	key, err := web.LoadPayerKey(ctx, sec, platform.Env("PAYER_COOKIE_KEY_REF")) // signs the payer cookie (bug 9, X4)
	if err != nil {
		platform.Fail("payer cookie key", err)
	}
	dyn, err := dyncode.LoadSigner(ctx, sec, platform.Env("DYNCODE_KEY_REF")) // screen codes' minute tokens (F7)
	if err != nil {
		platform.Fail("dyncode key", err)
	}
	unsubKey, err := sec.Load(ctx, platform.Env("REMIND_UNSUB_KEY_REF")) // the reminders' 退订 links (unsubscribe.go)
	if err != nil || len(bytes.TrimSpace(unsubKey)) < reminder.MinUnsubKeyLen {
		platform.Fail("reminder unsubscribe key", fmt.Errorf("want at least %d bytes: %v", reminder.MinUnsubKeyLen, err))
	}
	base := platform.Env("PUBLIC_BASE_URL")
	h := &Handler{
		Directory: dir, Store: st, Orders: st.OrderRepo(), History: st.OrderRepo(), OAuth: prov, Log: platform.Logger(),
		Notices:       &payments.Service{Directory: dir, Billing: st.LedgerRepo(), Log: platform.Logger()},
		PublicBaseURL: base, MaxAmountFen: platform.EnvInt64("MAX_AMOUNT_FEN", 5_000_000),
		Payers: web.PayerCookies{Key: key, Secure: strings.HasPrefix(base, "https://")}, Dyn: dyn,
		// E-invoice requests from receipts (issue 13): settings and invoices
		// read, a request's one conditional write; submission is InvoiceFunction's.
		Invoicing: &invoicing.Service{Invoices: &store.Invoices{DB: st.DB, Table: platform.Env("INVOICES_TABLE")}, Orders: st.OrderRepo(), Log: platform.Logger()},
	}
	h.Unsub = &Unsubscribe{Key: bytes.TrimSpace(unsubKey), Reminders: st.ReminderRepo(), Now: time.Now,
		Names: func(ctx context.Context, id string) string {
			if cm, err := st.GetCommunity(ctx, id); err == nil {
				return cm.Name
			}
			return ""
		}}
	if os.Getenv("REMIND_WECHAT_TEMPLATE_ID") != "" { // reminders by official-account message are on
		h.RemindBind = &RemindBind{Throttles: st.ReminderRepo()}
	}
	platform.Start(h.Handle)
}
