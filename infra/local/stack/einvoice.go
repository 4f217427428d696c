package stack

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"

	einvoicesb "github.com/estatepay/estatepay/infra/sandbox/einvoice"
	"github.com/estatepay/estatepay/shared/einvoice/nuonuo"
)

// EinvoiceSecretFile is the file under the keys directory holding the e-invoice
// platform application's credentials (JSON {"app_key", "app_secret",
// "access_token"}): InvoiceFunction reads it through EINVOICE_SECRET_REF
// (template parameter EinvoiceSecretName, file://…), and the einvoice
// sandbox accepts exactly those.
const EinvoiceSecretFile = "einvoice-nuonuo.json"

func (s *Stack) einvoiceSecretPath() string {
	return filepath.Join(s.opt.StateDir, "keys", EinvoiceSecretFile)
}

// loadOrCreateEinvoiceSecret reads the credentials, creating them once.
func loadOrCreateEinvoiceSecret(path string) (nuonuo.Config, error) {
	var c nuonuo.Config
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		var r [24]byte
		if _, err := rand.Read(r[:]); err != nil {
			return c, err
		}
		c = nuonuo.Config{AppKey: "local" + hex.EncodeToString(r[:4]), AppSecret: hex.EncodeToString(r[4:20]), AccessToken: hex.EncodeToString(r[20:])}
		return c, writeJSON(path, c)
	}
	if err != nil {
		return c, err
	}
	if err := json.Unmarshal(b, &c); err != nil || c.AppKey == "" || c.AppSecret == "" {
		return c, fmt.Errorf("%s: not the e-invoice credentials (fix or remove it)", path)
	}
	return c, nil
}

// startEinvoice serves the e-invoice platform sandbox (诺诺开放平台's shape,
// infra/sandbox/einvoice): issued invoices are called back to the gateway's
// POST /notify/einvoice a few hundred milliseconds after submission.
func (s *Stack) startEinvoice(l net.Listener) error {
	c, err := loadOrCreateEinvoiceSecret(s.einvoiceSecretPath())
	if err != nil {
		return err
	}
	sb := einvoicesb.New(einvoicesb.Config{AppKey: c.AppKey, AppSecret: c.AppSecret, AccessToken: c.AccessToken,
		RetrySchedule: s.opt.NotifyRetry,
		Logger:        slog.New(slog.NewTextHandler(prefixWriter{s.out, "[einvoice] "}, &slog.HandlerOptions{Level: slog.LevelInfo}))})
	sb.SetBaseURL(s.URLs.Einvoice)
	s.einvoice = sb
	s.serve(l, sb.Handler())
	return nil
}

// Einvoice returns the e-invoice platform sandbox.
func (s *Stack) Einvoice() *einvoicesb.Server { return s.einvoice }

// einvoiceParameters are the template parameters of the e-invoice platform.
func (s *Stack) einvoiceParameters(p map[string]string) {
	p["EinvoiceApiUrl"] = s.URLs.Einvoice
	p["EinvoiceSecretName"] = "file://" + s.einvoiceSecretPath()
}
