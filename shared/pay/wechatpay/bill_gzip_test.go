package wechatpay_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/estatepay/estatepay/shared/pay"
	"github.com/estatepay/estatepay/shared/pay/wechatpay"
)

// billWire sits between the adapter and the sandbox: it records what the
// adapter asks and what it downloads, and may rewrite the downloaded file
// (the file is not signed: only hash_value vouches for it).
type billWire struct {
	mu       sync.Mutex
	queries  []string // tradebill query strings
	download []byte   // the last bill file as served
	rewrite  func([]byte) []byte
}

func (w *billWire) RoundTrip(r *http.Request) (*http.Response, error) {
	res, err := http.DefaultTransport.RoundTrip(r)
	if err != nil {
		return res, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	switch r.URL.Path {
	case "/v3/bill/tradebill":
		w.queries = append(w.queries, r.URL.RawQuery)
	case "/v3/billdownload/file":
		b, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil {
			return nil, err
		}
		w.download = b
		if w.rewrite != nil {
			b = w.rewrite(b)
		}
		res.Body, res.ContentLength = io.NopCloser(bytes.NewReader(b)), int64(len(b))
	}
	return res, nil
}

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TradeBill asks for tar_type=GZIP, downloads the gzip and returns the
// un-gzipped bill; a file altered on the way (its hash no longer matches),
// or served un-gzipped, is refused with ErrBillIntegrity.
func TestTradeBillGzipThroughTheSandbox(t *testing.T) {
	for _, mode := range []string{wechatpay.ModeDirect, wechatpay.ModePartner} {
		t.Run(mode, func(t *testing.T) {
			e := newEnv(t, mode, nil)
			ctx := context.Background()
			e.prepay(t, "GZ_"+mode, 43210, "oGzipPayer")
			if err := e.sb.PayWithoutCallback("GZ_" + mode); err != nil {
				t.Fatal(err)
			}
			day := e.clock.Now()
			e.clock.Advance(24 * time.Hour)

			wire := &billWire{}
			cfg := e.cfg
			cfg.HTTPClient = &http.Client{Transport: wire, Timeout: 10 * time.Second}
			p, err := wechatpay.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			b, err := p.TradeBill(ctx, day)
			if err != nil {
				t.Fatal(err)
			}
			if len(wire.queries) != 1 || !strings.Contains(wire.queries[0], "tar_type=GZIP") || !strings.Contains(wire.queries[0], "bill_type=ALL") ||
				(mode == wechatpay.ModePartner) != strings.Contains(wire.queries[0], "sub_mchid="+subMchID) {
				t.Fatalf("asked %v", wire.queries)
			}
			if !bytes.HasPrefix(wire.download, []byte{0x1f, 0x8b}) || !bytes.Equal(gunzip(t, wire.download), b) {
				t.Fatal("the download was not the gzip of the returned bill")
			}
			rows, _, err := wechatpay.ParseTradeBill(b)
			if err != nil || len(rows) != 1 || rows[0].OrderID != "GZ_"+mode || rows[0].SettleFen != 43210 {
				t.Fatalf("parsed %+v %v", rows, err)
			}

			for name, rewrite := range map[string]func([]byte) []byte{
				"an amount altered in the file": func(b []byte) []byte {
					var out bytes.Buffer
					zw := gzip.NewWriter(&out)
					_, _ = zw.Write(bytes.Replace(gunzip(t, b), []byte("`432.10,"), []byte("`432.11,"), 1))
					_ = zw.Close()
					return out.Bytes()
				},
				"served un-gzipped": func(b []byte) []byte { return gunzip(t, b) },
			} {
				wire.mu.Lock()
				wire.rewrite = rewrite
				wire.mu.Unlock()
				if _, err := p.TradeBill(ctx, day); !errors.Is(err, wechatpay.ErrBillIntegrity) || !errors.Is(err, pay.ErrProvider) {
					t.Errorf("%s: %v, want ErrBillIntegrity", name, err)
				}
			}
		})
	}
}
