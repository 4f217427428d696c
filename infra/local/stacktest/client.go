package stacktest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/estatepay/estatepay/infra/local/stack"
	"github.com/estatepay/estatepay/shared/domain/order"
	"github.com/estatepay/estatepay/shared/store"
	"github.com/estatepay/estatepay/shared/web"
)

// Helpers for tests that talk to a running local stack over HTTP and the AWS SDK.

// OrderView is the orders API's JSON view of an order.
type OrderView struct {
	OrderID   string     `json:"order_id"`
	Status    string     `json:"status"`
	AmountFen int64      `json:"amount_fen"`
	Channel   string     `json:"channel"`
	PaidAt    *time.Time `json:"paid_at"` // ISO 8601, +08:00
	Pay       *struct {
		JSAPI       map[string]string `json:"jsapi"`
		RedirectURL string            `json:"redirect_url"`
	} `json:"pay"`
}

// HTTPClient is the client the helpers use.
var HTTPClient = &http.Client{Timeout: 30 * time.Second}

// RandomKey returns a fresh Idempotency-Key.
func RandomKey(t testing.TB) string {
	t.Helper()
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "test-" + hex.EncodeToString(b)
}

// CommunityToken returns the code token of a demo community.
func CommunityToken(t testing.TB, s *stack.Stack, id string) string {
	t.Helper()
	for _, c := range s.Demo.Communities {
		if c.ID == id {
			return c.Token
		}
	}
	t.Fatalf("no demo community %q", id)
	return ""
}

// CreateOrder creates an order through POST /api/orders as the pay page does,
// and checks it is PENDING. A WeChat payer (payerID, an openid) is presented
// the way the landing function hands it over after OAuth: a payer cookie
// signed with the stack's key for the code's WeChat app. Required payer fields
// are filled with a valid value.
func CreateOrder(t testing.TB, s *stack.Stack, token, channel string, amountFen int64, payerID string) OrderView {
	t.Helper()
	col, err := s.Store().LoadCollection(context.Background(), token)
	if err != nil {
		t.Fatalf("create order: code %s: %v", token, err)
	}
	body := map[string]any{"token": token, "channel": channel, "amount_fen": amountFen}
	fields := map[string]string{}
	for _, f := range col.PayerFields() {
		if f.Required {
			fields[f.Key] = strings.Repeat("1", max(f.MinLen, 1))
		}
	}
	if len(fields) > 0 {
		body["fields"] = fields
	}
	status, raw := postOrder(t, s, col, body, payerID)
	if status != http.StatusCreated {
		t.Fatalf("create order: %d %s", status, raw)
	}
	var v OrderView
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("create order: %v: %s", err, raw)
	}
	if v.Status != "PENDING" || v.OrderID == "" || v.AmountFen != amountFen {
		t.Fatalf("create order: unexpected %s", raw)
	}
	return v
}

// postOrder sends POST /api/orders as a pay page does: a fresh
// Idempotency-Key and, for a WeChat payer (payerID, an openid), the payer
// cookie signed with the stack's key for the community's WeChat app.
func postOrder(t testing.TB, s *stack.Stack, col store.Collection, body map[string]any, payerID string) (int, []byte) {
	t.Helper()
	raw, _ := json.Marshal(body)
	req, err := http.NewRequest(http.MethodPost, s.URLs.Gateway+"/api/orders", bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", RandomKey(t))
	if payerID != "" && col.WeChat != nil {
		set, err := web.PayerCookies{Key: []byte(s.Keys().PayerCookieKey)}.Issue(
			web.Payer{Iface: col.WeChat.ID, AppID: col.WeChat.OAuthAppID(), OpenID: payerID}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Cookie", strings.SplitN(set[0], ";", 2)[0])
	}
	resp, err := HTTPClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ = io.ReadAll(resp.Body)
	return resp.StatusCode, raw
}

// GetOrder reads an order through GET /api/orders/{id}.
func GetOrder(t testing.TB, s *stack.Stack, id string) OrderView {
	t.Helper()
	resp, err := HTTPClient.Get(s.URLs.Gateway + "/api/orders/" + id)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("get order %s: %d %s", id, resp.StatusCode, raw)
	}
	var v OrderView
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("get order: %v: %s", err, raw)
	}
	return v
}

// StoredOrder reads an order straight from the OrdersTable.
func StoredOrder(t testing.TB, s *stack.Stack, id string) order.Order {
	t.Helper()
	o, err := s.Store().OrderRepo().Get(context.Background(), id)
	if err != nil {
		t.Fatalf("store get order %s: %v", id, err)
	}
	return o
}

// WaitFor polls cond until it holds or the deadline passes.
func WaitFor(t testing.TB, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond) // polling interval, not synchronisation
	}
}

// SQSClient is an SQS client for the stack's queues.
func SQSClient(s *stack.Stack) *sqs.Client {
	return sqs.New(sqs.Options{
		Region:       stack.Region,
		BaseEndpoint: aws.String(s.URLs.SQS),
		Credentials:  credentials.NewStaticCredentialsProvider("local", "local", ""),
	})
}

// DrainEvents waits until the stream relay has published every change stored
// so far, then receives (and deletes) every message in PaymentEventsQueue and
// checks the queue is empty afterwards.
func DrainEvents(t testing.TB, s *stack.Stack) []order.Event {
	t.Helper()
	WaitFor(t, "the stream relay to catch up", 30*time.Second, s.StreamsCaughtUp)
	ctx := context.Background()
	c := SQSClient(s)
	q := s.Queues["PaymentEventsQueue"]
	var out []order.Event
	for {
		res, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(q), MaxNumberOfMessages: 10, WaitTimeSeconds: 0, VisibilityTimeout: 60,
			MessageAttributeNames: []string{"All"},
		})
		if err != nil {
			t.Fatalf("receive: %v", err)
		}
		if len(res.Messages) == 0 {
			break
		}
		for _, m := range res.Messages {
			var e order.Event
			if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &e); err != nil {
				t.Fatalf("event is not JSON: %v: %s", err, aws.ToString(m.Body))
			}
			if a, ok := m.MessageAttributes["type"]; !ok || aws.ToString(a.StringValue) != e.Type || e.ID == "" {
				t.Errorf("event %s: type attribute %v", e.OrderID, m.MessageAttributes["type"])
			}
			out = append(out, e)
			if _, err := c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(q), ReceiptHandle: m.ReceiptHandle}); err != nil {
				t.Fatalf("delete: %v", err)
			}
		}
	}
	if v, f, ok := s.SQS().Depth(paymentEventsQueue); !ok || v != 0 || f != 0 {
		t.Fatalf("queue not empty after drain: visible=%d inflight=%d ok=%v", v, f, ok)
	}
	return out
}

// paymentEventsQueue is PaymentEventsQueue's local name (FIFO queues end in .fifo).
const paymentEventsQueue = "PaymentEventsQueue.fifo"

// QueueDepth is the number of messages (visible + in flight) in PaymentEventsQueue.
func QueueDepth(t testing.TB, s *stack.Stack) int {
	t.Helper()
	WaitFor(t, "the stream relay to catch up", 30*time.Second, s.StreamsCaughtUp)
	v, f, ok := s.SQS().Depth(paymentEventsQueue)
	if !ok {
		t.Fatal("no PaymentEventsQueue")
	}
	return v + f
}
