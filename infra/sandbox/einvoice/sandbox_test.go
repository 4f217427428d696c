package einvoice_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	sb "github.com/estatepay/estatepay/infra/sandbox/einvoice"
	"github.com/estatepay/estatepay/shared/einvoice"
	"github.com/estatepay/estatepay/shared/einvoice/nuonuo"
)

const seller = "91310000MA1FL0000X"

type receiver struct {
	mu      sync.Mutex
	client  *nuonuo.Client
	results []einvoice.Result
	errs    []error
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	q := map[string]string{}
	for k := range req.URL.Query() {
		q[k] = req.URL.Query().Get(k)
	}
	res, err := r.client.ParseCallback(req.Header, q, body, time.Now())
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.errs = append(r.errs, err)
		http.Error(w, "bad", http.StatusUnauthorized)
		return
	}
	r.results = append(r.results, res)
	_, _ = w.Write([]byte(`{"status":"0000","message":"成功"}`))
}

func setup(t *testing.T) (*sb.Server, *nuonuo.Client, *receiver, string) {
	t.Helper()
	s := sb.New(sb.Config{AppKey: "k1", AppSecret: "secret", AccessToken: "tok", Delay: -1})
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	s.SetBaseURL(srv.URL)
	c := nuonuo.New(nuonuo.Config{BaseURL: srv.URL, AppKey: "k1", AppSecret: "secret", AccessToken: "tok"}, nil, nil)
	rc := &receiver{client: c}
	cb := httptest.NewServer(rc)
	t.Cleanup(cb.Close)
	return s, c, rc, cb.URL + "/notify/einvoice"
}

func issueReq(cb string) einvoice.IssueRequest {
	return einvoice.IssueRequest{OrderNo: "ord1-1", SellerName: "示例物业", SellerTaxNo: seller, BuyerName: "某某科技有限公司",
		BuyerTaxNo: "91110108MA00000001", Lines: []einvoice.Line{{Name: "物业管理服务", TaxCode: "3040502020200000000", RateBP: 600, InclFen: 10000, ExclFen: 9434, TaxFen: 566}},
		CallbackURL: cb, At: time.Now()}
}

func TestIssueDedupCallbackRed(t *testing.T) {
	s, c, rc, cb := setup(t)
	ctx := context.Background()
	serial, err := c.Issue(ctx, issueReq(cb))
	if err != nil {
		t.Fatal(err)
	}
	again, err := c.Issue(ctx, issueReq(cb))
	if err != nil || again != serial || len(s.Invoices()) != 1 {
		t.Fatalf("retried issue: %v %s %s %d", err, again, serial, len(s.Invoices()))
	}
	got, err := c.Query(ctx, []string{serial})
	if err != nil || len(got) != 1 || got[0].State != einvoice.Issuing {
		t.Fatalf("query before issue: %v %+v", err, got)
	}
	if _, err := c.Red(ctx, einvoice.RedRequest{OrderNo: "ord1-1R", SellerTaxNo: seller, BlueSerial: serial, CallbackURL: cb}); !errors.Is(err, einvoice.ErrRefused) {
		t.Errorf("red before issue: %v", err)
	}
	if n := s.Deliver(""); n != 1 {
		t.Fatalf("delivered %d", n)
	}
	if len(rc.results) != 1 || rc.results[0].State != einvoice.Issued || rc.results[0].OrderNo != "ord1-1" || len(rc.results[0].Number) != 20 || rc.results[0].Red {
		t.Fatalf("callback: %+v %v", rc.results, rc.errs)
	}
	res, err := http.Get(rc.results[0].PDFURL)
	if err != nil {
		t.Fatal(err)
	}
	pdf, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.HasPrefix(string(pdf), "%PDF-1.4") || !strings.Contains(string(pdf), rc.results[0].Number) {
		t.Errorf("pdf: %.60q", pdf)
	}
	red := einvoice.RedRequest{OrderNo: "ord1-1R", SellerTaxNo: seller, BlueSerial: serial, BlueNumber: rc.results[0].Number, CallbackURL: cb}
	rs, err := c.Red(ctx, red)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := c.Red(ctx, red); err != nil || again != rs {
		t.Errorf("retried red: %v %s", err, again)
	}
	s.Deliver(rs)
	if len(rc.results) != 2 || !rc.results[1].Red || rc.results[1].State != einvoice.Issued {
		t.Fatalf("red callback: %+v", rc.results)
	}
	red.OrderNo = "ord1-1R2"
	if _, err := c.Red(ctx, red); !errors.Is(err, einvoice.ErrRefused) {
		t.Errorf("second red of one invoice: %v", err)
	}
}

func TestRefusals(t *testing.T) {
	_, c, _, cb := setup(t)
	bad := issueReq(cb)
	bad.Lines[0].TaxFen = 565 // incl ≠ excl + tax
	if _, err := c.Issue(context.Background(), bad); !errors.Is(err, einvoice.ErrRefused) {
		t.Errorf("inconsistent line: %v", err)
	}
}

func TestCallbackSignatureAndTimestamp(t *testing.T) {
	s, c, _, _ := setup(t)
	body := []byte(`{"serialNo":"S1","orderNo":"ord1-1","status":"2","allElectronicInvoiceNumber":"26310000000000000001","pdfUrl":"http://x/a.pdf","invoiceType":"1"}`)
	now := time.Now()
	parse := func(req *http.Request, at time.Time) error {
		q := map[string]string{}
		for k := range req.URL.Query() {
			q[k] = req.URL.Query().Get(k)
		}
		b, _ := io.ReadAll(req.Body)
		_, err := c.ParseCallback(req.Header, q, b, at)
		return err
	}
	req, _ := s.SignedCallback("http://x/notify/einvoice", body, now)
	if err := parse(req, now); err != nil {
		t.Fatalf("good callback: %v", err)
	}
	req, _ = s.SignedCallback("http://x/notify/einvoice", body, now.Add(-6*time.Minute))
	if err := parse(req, now); !errors.Is(err, einvoice.ErrSignature) {
		t.Errorf("stale timestamp: %v", err)
	}
	req, _ = s.SignedCallback("http://x/notify/einvoice", body, now)
	req.Body = io.NopCloser(strings.NewReader(strings.Replace(string(body), "a.pdf", "evil.pdf", 1)))
	if err := parse(req, now); !errors.Is(err, einvoice.ErrSignature) {
		t.Errorf("altered body: %v", err)
	}
	other := sb.New(sb.Config{AppKey: "k1", AppSecret: "not-ours", AccessToken: "tok"})
	req, _ = other.SignedCallback("http://x/notify/einvoice", body, now)
	if err := parse(req, now); !errors.Is(err, einvoice.ErrSignature) {
		t.Errorf("wrong secret: %v", err)
	}
}
