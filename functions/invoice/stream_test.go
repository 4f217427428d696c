package main

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"

	"github.com/estatepay/estatepay/shared/domain/invoice"
	"github.com/estatepay/estatepay/shared/einvoice"
	"github.com/estatepay/estatepay/shared/store"
)

// counting counts the issue requests that reach the platform (the sandbox
// deduplicates by orderNo, so its list cannot tell one call from two) and
// can fail them as a network error would.
type counting struct {
	einvoice.Platform
	mu     sync.Mutex
	issues int
	fail   error
}

func (c *counting) Issue(ctx context.Context, r einvoice.IssueRequest) (string, error) {
	c.mu.Lock()
	c.issues++
	fail := c.fail
	c.mu.Unlock()
	if fail != nil {
		return "", fail
	}
	return c.Platform.Issue(ctx, r)
}

func (c *counting) calls() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.issues
}

func streamRecord(name, seqNo, pk, sk, status string) lambdaevents.DynamoDBEventRecord {
	keys := map[string]lambdaevents.DynamoDBAttributeValue{"pk": lambdaevents.NewStringAttribute(pk), "sk": lambdaevents.NewStringAttribute(sk)}
	rec := lambdaevents.DynamoDBEventRecord{EventName: name, EventSource: "aws:dynamodb", EventID: "ev" + seqNo,
		Change: lambdaevents.DynamoDBStreamRecord{Keys: keys, SequenceNumber: seqNo, StreamViewType: "NEW_IMAGE"}}
	if name != "REMOVE" {
		rec.Change.NewImage = map[string]lambdaevents.DynamoDBAttributeValue{"pk": keys["pk"], "sk": keys["sk"]}
		if status != "" {
			rec.Change.NewImage["status"] = lambdaevents.NewStringAttribute(status)
		}
	}
	return rec
}

func (f *fixture) stream(t *testing.T, ctx context.Context, recs ...lambdaevents.DynamoDBEventRecord) lambdaevents.DynamoDBEventResponse {
	t.Helper()
	raw, err := json.Marshal(lambdaevents.DynamoDBEvent{Records: recs})
	if err != nil {
		t.Fatal(err)
	}
	out, err := f.h.Handle(ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	resp, ok := out.(lambdaevents.DynamoDBEventResponse)
	if !ok {
		t.Fatalf("a stream batch answered %T", out)
	}
	return resp
}

func withCounting(f *fixture) *counting {
	c := &counting{Platform: f.h.Svc.Platform}
	f.h.Svc.Platform = c
	return c
}

// A new request is submitted once from the stream; its later changes, the
// settings, a removal and a replay of the batch submit nothing more.
func TestStreamSubmitsANewRequestOnce(t *testing.T) {
	f := newFixture(t)
	plat := withCounting(f)
	ctx := context.Background()
	insert := streamRecord("INSERT", "100", "INV#EPORDER1", "001", "REQUESTED")
	if resp := f.stream(t, ctx, insert); len(resp.BatchItemFailures) != 0 {
		t.Fatalf("failures %+v", resp.BatchItemFailures)
	}
	inv, _ := f.repo.Get(ctx, "EPORDER1", 1)
	if plat.calls() != 1 || inv.Status != invoice.Submitted || inv.PlatformSerial == "" || len(f.sb.Invoices()) != 1 {
		t.Fatalf("after the insert: %d calls, %+v", plat.calls(), inv)
	}
	others := []lambdaevents.DynamoDBEventRecord{
		insert, // the mapping's retry, or a concurrent schedule run that got there first
		streamRecord("MODIFY", "101", "INV#EPORDER1", "001", "SUBMITTED"),
		streamRecord("MODIFY", "102", "INV#EPORDER1", "001", "REQUESTED"), // a recorded retry: the schedule's
		streamRecord("INSERT", "103", "INVSET#co", "A", ""),
		streamRecord("INSERT", "104", "INV#EPNOSUCH", "001", "REQUESTED"), // gone (or never ours): nothing to do
		streamRecord("REMOVE", "105", "INV#EPORDER1", "002", ""),
	}
	if resp := f.stream(t, ctx, others...); len(resp.BatchItemFailures) != 0 || plat.calls() != 1 {
		t.Fatalf("other changes: failures %+v, %d platform calls", resp.BatchItemFailures, plat.calls())
	}
	if got, _ := f.repo.Get(ctx, "EPORDER1", 1); got.Version != inv.Version {
		t.Errorf("other changes wrote the invoice: %+v", got)
	}
}

// A submission that fails is reported failed, so the mapping retries; the
// attempt (and its backoff) is recorded, so the retry leaves it to the
// schedule instead of hurrying the platform; the records after it are
// still submitted now.
func TestStreamReportsAFailedSubmission(t *testing.T) {
	f := newFixture(t)
	plat := withCounting(f)
	ctx := context.Background()
	o2 := f.ord["EPORDER1"]
	o2.ID = "EPORDER2"
	f.ord[o2.ID] = o2
	if _, _, err := f.h.Svc.Request(ctx, o2, []invoice.Part{{Fen: o2.AmountFen}}, invoice.Title{Kind: invoice.Personal, Name: "李四"}, "l@example.com"); err != nil {
		t.Fatal(err)
	}
	plat.fail = errors.New("dial tcp: connection refused")
	batch := []lambdaevents.DynamoDBEventRecord{streamRecord("INSERT", "200", "INV#EPORDER1", "001", "REQUESTED"), streamRecord("INSERT", "201", "INV#EPORDER2", "001", "REQUESTED")}
	resp := f.stream(t, ctx, batch[0])
	if len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != "200" {
		t.Fatalf("platform down: failures %+v", resp.BatchItemFailures)
	}
	inv, _ := f.repo.Get(ctx, "EPORDER1", 1)
	if inv.Status != invoice.Requested || inv.Attempts != 1 || !inv.NextCheckAt.After(time.Now()) {
		t.Fatalf("the failed attempt is not recorded for the schedule: %+v", inv)
	}
	plat.fail = nil
	// The retry (from 200 on): EPORDER1 waits for its backoff, EPORDER2 goes now.
	if resp := f.stream(t, ctx, batch...); len(resp.BatchItemFailures) != 0 || plat.calls() != 2 {
		t.Fatalf("retry: failures %+v, %d platform calls", resp.BatchItemFailures, plat.calls())
	}
	if a, _ := f.repo.Get(ctx, "EPORDER1", 1); a.Status != invoice.Requested {
		t.Errorf("retried before its backoff: %+v", a)
	}
	if b, _ := f.repo.Get(ctx, "EPORDER2", 1); b.Status != invoice.Submitted {
		t.Errorf("the record after the failure: %+v", b)
	}

	// The store failing: the first failed record is reported, the next tried.
	f.h.Svc.Invoices = &store.Invoices{DB: f.repo.DB, Table: "NoSuchTable"}
	resp = f.stream(t, ctx, streamRecord("INSERT", "300", "INV#EPORDER1", "001", "REQUESTED"), streamRecord("INSERT", "301", "INV#EPORDER2", "001", "REQUESTED"))
	if len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != "300" {
		t.Errorf("store down: failures %+v, want the first record", resp.BatchItemFailures)
	}
}

// Too close to the deadline for a platform call, the rest of the batch is
// reported from the next new request on, and nothing is started.
func TestStreamStopsBeforeTheDeadline(t *testing.T) {
	f := newFixture(t)
	plat := withCounting(f)
	now := time.Date(2026, 12, 7, 2, 0, 0, 0, time.UTC)
	f.h.Now = func() time.Time { return now }
	ctx, cancel := context.WithDeadline(context.Background(), now.Add(StreamMargin-time.Second))
	defer cancel()
	resp := f.stream(t, ctx, streamRecord("MODIFY", "400", "INV#EPORDER1", "001", "SUBMITTED"), streamRecord("INSERT", "401", "INV#EPORDER1", "001", "REQUESTED"))
	if len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != "401" || plat.calls() != 0 {
		t.Errorf("near the deadline: failures %+v, %d platform calls", resp.BatchItemFailures, plat.calls())
	}
}
