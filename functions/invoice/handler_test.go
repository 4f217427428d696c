package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"

	"github.com/estatepay/estatepay/infra/local/stacktest"
	sb "github.com/estatepay/estatepay/infra/sandbox/einvoice"
	"github.com/estatepay/estatepay/shared/domain/invoice"
	"github.com/estatepay/estatepay/shared/domain/order"
	"github.com/estatepay/estatepay/shared/domain/refund"
	"github.com/estatepay/estatepay/shared/einvoice/nuonuo"
	"github.com/estatepay/estatepay/shared/events"
	"github.com/estatepay/estatepay/shared/invoicing"
	"github.com/estatepay/estatepay/shared/notify"
	"github.com/estatepay/estatepay/shared/store"
	"github.com/estatepay/estatepay/shared/web"
)

type mails struct {
	mu   sync.Mutex
	sent []notify.EmailMessage
}

func (m *mails) SendEmail(_ context.Context, e notify.EmailMessage) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sent = append(m.sent, e)
	return nil
}

type orders map[string]order.Order

func (o orders) Get(_ context.Context, id string) (order.Order, error) { return o[id], nil }

type fixture struct {
	h    *Handler
	repo *store.Invoices
	sb   *sb.Server
	mail *mails
	ord  orders
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	st := stacktest.NewStore(t)
	repo := &store.Invoices{DB: st.DB, Table: "InvoicesTable"}
	ctx := context.Background()
	if _, err := repo.PutInvoiceSettings(ctx, invoice.Settings{CompanyID: "co", Enabled: true, SellerName: "示例物业", SellerTaxNo: "91310000MA1FL0000X",
		Default: invoice.ItemSetting{Name: "物业管理服务", TaxCode: "3040502020200000000", Rate: 600}}); err != nil {
		t.Fatal(err)
	}
	box := sb.New(sb.Config{AppKey: "k", AppSecret: "s", AccessToken: "a", Delay: -1})
	srv := httptest.NewServer(box.Handler())
	t.Cleanup(srv.Close)
	box.SetBaseURL(srv.URL)
	plat := nuonuo.New(nuonuo.Config{BaseURL: srv.URL, AppKey: "k", AppSecret: "s", AccessToken: "a"}, nil, nil)
	f := &fixture{repo: repo, sb: box, mail: &mails{}, ord: orders{}}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	svc := &invoicing.Service{Invoices: repo, Orders: f.ord, Platform: plat, Email: f.mail, CallbackURL: "http://gw/notify/einvoice", Now: time.Now, Log: log}
	f.h = &Handler{Svc: svc, Platform: plat, Now: time.Now, Log: log}
	o := order.Order{ID: "EPORDER1", CompanyID: "co", CommunityID: "cm", AmountFen: 10000, Status: order.Paid, NoticeID: "N1"}
	f.ord[o.ID] = o
	if _, _, err := svc.Request(ctx, o, []invoice.Part{{Fen: 10000}}, invoice.Title{Kind: invoice.Personal, Name: "张三"}, "z@example.com"); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) invoke(t *testing.T, v any) any {
	t.Helper()
	raw, _ := json.Marshal(v)
	out, err := f.h.Handle(context.Background(), raw)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// callback turns the sandbox's signed request into the API Gateway event.
func callback(t *testing.T, req *http.Request) web.Request {
	t.Helper()
	body, _ := io.ReadAll(req.Body)
	q := map[string]string{}
	for k := range req.URL.Query() {
		q[k] = req.URL.Query().Get(k)
	}
	return web.Request{RouteKey: "POST /notify/einvoice", RawPath: "/notify/einvoice", RawQueryString: req.URL.RawQuery, QueryStringParameters: q,
		Headers: map[string]string{"x-nuonuo-sign": req.Header.Get("X-Nuonuo-Sign"), "content-type": "application/json"}, Body: string(body)}
}

func TestCallbackVerifiedAppliedOnce(t *testing.T) {
	f := newFixture(t)
	if out := f.invoke(t, map[string]string{"job": "sweep"}); out.(map[string]int)["handled"] != 1 {
		t.Fatalf("sweep: %v", out)
	}
	inv, _ := f.repo.Get(context.Background(), "EPORDER1", 1)
	if inv.Status != invoice.Submitted {
		t.Fatalf("%+v", inv)
	}
	body := `{"serialNo":"` + inv.PlatformSerial + `","orderNo":"EPORDER1-1","status":"2","allElectronicInvoiceNumber":"26310000000000000042","pdfUrl":"http://sb/x.pdf","invoiceType":"1"}`

	// Refused: a stale timestamp, another secret, an altered body.
	stale, _ := f.sb.SignedCallback("http://gw/notify/einvoice", []byte(body), time.Now().Add(-6*time.Minute))
	forger := sb.New(sb.Config{AppKey: "k", AppSecret: "guess"})
	forged, _ := forger.SignedCallback("http://gw/notify/einvoice", []byte(body), time.Now())
	good, _ := f.sb.SignedCallback("http://gw/notify/einvoice", []byte(body), time.Now())
	altered := callback(t, good)
	altered.Body = `{"serialNo":"` + inv.PlatformSerial + `","orderNo":"EPORDER1-1","status":"2","allElectronicInvoiceNumber":"1","pdfUrl":"http://evil/x.pdf","invoiceType":"1"}`
	for name, req := range map[string]web.Request{"stale": callback(t, stale), "forged": callback(t, forged), "altered": altered} {
		resp := f.invoke(t, req).(web.Response)
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s callback: %d %s", name, resp.StatusCode, resp.Body)
		}
	}
	if got, _ := f.repo.Get(context.Background(), "EPORDER1", 1); got.Status != invoice.Submitted || len(f.mail.sent) != 0 {
		t.Fatalf("a refused callback changed something: %+v", got)
	}
	for range 3 {
		req, _ := f.sb.SignedCallback("http://gw/notify/einvoice", []byte(body), time.Now())
		resp := f.invoke(t, callback(t, req)).(web.Response)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("callback: %d %s", resp.StatusCode, resp.Body)
		}
	}
	got, _ := f.repo.Get(context.Background(), "EPORDER1", 1)
	if got.Status != invoice.Issued || got.Number != "26310000000000000042" || len(f.mail.sent) != 1 {
		t.Fatalf("after 3 callbacks: %+v, %d mails", got, len(f.mail.sent))
	}
}

func sqsEvent(bodies ...string) lambdaevents.SQSEvent {
	var ev lambdaevents.SQSEvent
	for i, b := range bodies {
		ev.Records = append(ev.Records, lambdaevents.SQSMessage{MessageId: string(rune('a' + i)), Body: b, EventSource: "aws:sqs",
			Attributes: map[string]string{"MessageGroupId": "g" + string(rune('a'+i))}})
	}
	return ev
}

func TestRefundEventsReverse(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.invoke(t, map[string]string{"job": "sweep"})
	f.sb.Deliver("") // issued; the callback target is unreachable here, so apply by query:
	inv, _ := f.repo.Get(ctx, "EPORDER1", 1)
	if err := f.h.Svc.Work(ctx, inv); err != nil {
		t.Fatal(err)
	}
	if inv, _ = f.repo.Get(ctx, "EPORDER1", 1); inv.Status != invoice.Issued {
		t.Fatalf("issued by query: %+v", inv)
	}
	o := f.ord["EPORDER1"]
	o.Status, o.RefundedFen = order.Refunded, 10000
	f.ord[o.ID] = o
	refund := `{"event_id":"RFX:2","type":"refund.succeeded","aggregate":"refund","order_id":"EPORDER1","company_id":"co","amount_fen":10000}`
	paid := `{"event_id":"EPORDER1:3","type":"payment.succeeded","order_id":"EPORDER1","company_id":"co"}`
	out := f.invoke(t, sqsEvent(paid, refund, refund, "not json")).(lambdaevents.SQSEventResponse)
	if len(out.BatchItemFailures) != 1 || out.BatchItemFailures[0].ItemIdentifier != "d" {
		t.Errorf("failures %+v, want only the poison message", out.BatchItemFailures)
	}
	inv, _ = f.repo.Get(ctx, "EPORDER1", 1)
	if inv.Status != invoice.RedRequested || inv.RedSerial == "" || inv.RedEventID != "RFX:2" {
		t.Fatalf("after the refund: %+v", inv)
	}
	reds := 0
	for _, i := range f.sb.Invoices() {
		if i.Red {
			reds++
		}
	}
	if reds != 1 {
		t.Errorf("%d red invoices at the platform", reds)
	}
}

func TestSampleEventsDispatch(t *testing.T) {
	f := newFixture(t)
	for _, name := range []string{"invoice-sweep.json", "invoice-events.json", "invoice-callback.json", "invoice-stream.json"} {
		raw, err := os.ReadFile("../../events/" + name)
		if err != nil {
			t.Fatal(err)
		}
		out, err := f.h.Handle(context.Background(), raw)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if r, ok := out.(web.Response); ok && r.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: the sample's made-up signature answered %d", name, r.StatusCode)
		}
	}
}

// invoiceQueueTypes are the types RelayFunction's EVENT_QUEUE_TYPES sends
// to InvoiceEventsQueue (template.yaml; infra/template checks the same
// list): every other event type the relay publishes must be one this
// function ignores, so that the filter loses it nothing.
var invoiceQueueTypes = []string{refund.EventSucceeded, order.EventRefunded}

func TestFilteredOutTypesAreNotOurs(t *testing.T) {
	h := &Handler{Log: slog.New(slog.NewTextHandler(io.Discard, nil))} // no service: acting on an event would panic
	for _, typ := range events.Types {
		if slices.Contains(invoiceQueueTypes, typ) {
			continue
		}
		body := `{"event_id":"EPX:3","type":"` + typ + `","aggregate":"order","order_id":"EPX","company_id":"co","amount_fen":100}`
		if err := h.event(context.Background(), lambdaevents.SQSMessage{MessageId: "m", Body: body}); err != nil {
			t.Errorf("%s: %v", typ, err)
		}
	}
	// And the ones the queue receives are acted on (a nil service panics).
	for _, typ := range invoiceQueueTypes {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s was not acted on", typ)
				}
			}()
			_ = h.event(context.Background(), lambdaevents.SQSMessage{MessageId: "m", Body: `{"event_id":"EPX:3","type":"` + typ + `","order_id":"EPX"}`})
		}()
	}
}
