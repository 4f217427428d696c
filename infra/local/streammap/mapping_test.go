package streammap

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

const testArn = "arn:aws:dynamodb:ap-southeast-1:000000000000:table/Orders/stream/2025-03-01T08:00:00.000"

var t0 = time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)

// fakeStream is an in-memory stream of one table, "Orders".
type fakeStream struct {
	mu      sync.Mutex
	recs    []Record
	next    int
	changed chan struct{}
	served  map[string]bool // sequence numbers ReadStream has returned
}

// Sequence numbers start at 98 so that they cross a digit boundary (99, 100):
// plain string order would get them wrong.
func newFakeStream() *fakeStream { return &fakeStream{next: 98, changed: make(chan struct{})} }

func (f *fakeStream) StreamArn(table string) string {
	if table != "Orders" {
		return ""
	}
	return testArn
}

func (f *fakeStream) ReadStream(table, after string, limit int) ([]Record, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.served == nil {
		f.served = map[string]bool{}
	}
	var out []Record
	for _, r := range f.recs {
		if len(out) == limit {
			break
		}
		if after == "" || SeqLess(after, r.SequenceNumber) {
			out = append(out, r)
			f.served[r.SequenceNumber] = true
		}
	}
	return out, nil
}

func (f *fakeStream) StreamChanged(string) <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.changed
}

// put appends a MODIFY record for item id (created at at) and returns its sequence number.
func (f *fakeStream) put(id string, at time.Time) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	seq := strconv.Itoa(f.next)
	f.next++
	f.recs = append(f.recs, Record{
		EventID: "ev-" + seq, EventName: "MODIFY", SequenceNumber: seq,
		Keys:                        map[string]json.RawMessage{"pk": json.RawMessage(`{"S":"` + id + `"}`)},
		NewImage:                    map[string]json.RawMessage{"pk": json.RawMessage(`{"S":"` + id + `"}`), "status": json.RawMessage(`{"S":"PAID"}`), "amount": json.RawMessage(`{"N":"100"}`)},
		OldImage:                    map[string]json.RawMessage{"pk": json.RawMessage(`{"S":"` + id + `"}`), "status": json.RawMessage(`{"S":"PENDING"}`)},
		ApproximateCreationDateTime: at, SizeBytes: 64, StreamViewType: "NEW_AND_OLD_IMAGES",
	})
	close(f.changed)
	f.changed = make(chan struct{})
	return seq
}

// call is one invocation; the test answers it on reply.
type call struct {
	raw   []byte
	ev    events.DynamoDBEvent
	reply chan result
}

type result struct {
	resp []byte
	err  error
}

type harness struct {
	t       *testing.T
	calls   chan call
	waits   chan time.Duration
	failed  chan []byte
	stop    func() error
	running bool
}

// run starts Run on src with an invoke that hands every event to the test.
// Unless m sets them, waits end at once (their durations are recorded) and
// on-failure records are collected.
func run(t *testing.T, src Source, m Mapping) *harness {
	t.Helper()
	h := &harness{t: t, calls: make(chan call), waits: make(chan time.Duration, 100), failed: make(chan []byte, 100), running: true}
	if m.Name == "" {
		m.Name = "Fn.Stream"
	}
	if m.Table == "" {
		m.Table = "Orders"
	}
	if m.StartingPosition == "" {
		m.StartingPosition = "TRIM_HORIZON"
	}
	m.Region, m.FunctionArn = "ap-southeast-1", "arn:aws:lambda:ap-southeast-1:000000000000:function:Fn"
	if m.After == nil {
		m.After = func(d time.Duration) <-chan time.Time {
			h.waits <- d
			c := make(chan time.Time, 1)
			c <- time.Time{}
			return c
		}
	}
	if m.OnFailure == nil {
		m.OnFailure = func(_ context.Context, rec []byte) error {
			h.failed <- rec
			return nil
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, src, m, func(ctx context.Context, event []byte) ([]byte, error) {
			c := call{raw: event, reply: make(chan result, 1)}
			if err := json.Unmarshal(event, &c.ev); err != nil {
				t.Errorf("event does not unmarshal as events.DynamoDBEvent: %v\n%s", err, event)
			}
			select {
			case h.calls <- c:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			select {
			case r := <-c.reply:
				return r.resp, r.err
			case <-ctx.Done():
				select { // an answer given before the stop wins
				case r := <-c.reply:
					return r.resp, r.err
				default:
					return nil, ctx.Err()
				}
			}
		})
	}()
	h.stop = func() error {
		if !h.running {
			return nil
		}
		h.running = false
		cancel()
		return <-done
	}
	t.Cleanup(func() { _ = h.stop() })
	return h
}

func (h *harness) next() call {
	h.t.Helper()
	select {
	case c := <-h.calls:
		return c
	case <-time.After(10 * time.Second):
		h.t.Fatal("the mapping did not invoke the function")
		return call{}
	}
}

// expect takes the next invocation and checks its sequence numbers.
func (h *harness) expect(seqs ...string) call {
	h.t.Helper()
	c := h.next()
	if got := strings.Join(seqOf(c), ","); got != strings.Join(seqs, ",") {
		h.t.Fatalf("invoked with records %s, want %s", got, strings.Join(seqs, ","))
	}
	return c
}

func (h *harness) failure() failureRecord {
	h.t.Helper()
	select {
	case b := <-h.failed:
		var f failureRecord
		if err := json.Unmarshal(b, &f); err != nil {
			h.t.Fatalf("on-failure record %s: %v", b, err)
		}
		return f
	case <-time.After(10 * time.Second):
		h.t.Fatal("no on-failure record")
		return failureRecord{}
	}
}

func seqOf(c call) []string {
	var out []string
	for _, r := range c.ev.Records {
		out = append(out, r.Change.SequenceNumber)
	}
	return out
}

func itemFailures(seqs ...string) []byte {
	var r events.DynamoDBEventResponse
	for _, s := range seqs {
		r.BatchItemFailures = append(r.BatchItemFailures, events.DynamoDBBatchItemFailure{ItemIdentifier: s})
	}
	b, _ := json.Marshal(r)
	return b
}

var ok = result{}

func TestDeliversInOrderAsLambdaEvents(t *testing.T) {
	src := newFakeStream()
	for i := range 5 {
		src.put(fmt.Sprintf("order-%d", i), t0.Add(time.Duration(i)*time.Second))
	}
	src.recs[4].EventName, src.recs[4].NewImage = "REMOVE", nil
	src.recs[4].UserIdentity = &Identity{Type: "Service", PrincipalID: "dynamodb.amazonaws.com"}
	cp := &memCheckpoints{}
	h := run(t, src, Mapping{BatchSize: 2, Checkpoints: cp})

	c := h.expect("98", "99")
	r := c.ev.Records[1]
	if r.EventID != "ev-99" || r.EventName != "MODIFY" || r.EventVersion != "1.1" || r.EventSource != "aws:dynamodb" ||
		r.AWSRegion != "ap-southeast-1" || r.EventSourceArn != testArn || r.UserIdentity != nil ||
		r.Change.Keys["pk"].String() != "order-1" || r.Change.NewImage["status"].String() != "PAID" ||
		r.Change.NewImage["amount"].Number() != "100" || r.Change.OldImage["status"].String() != "PENDING" ||
		!r.Change.ApproximateCreationDateTime.Equal(t0.Add(time.Second)) || r.Change.SizeBytes != 64 ||
		r.Change.StreamViewType != "NEW_AND_OLD_IMAGES" {
		t.Fatalf("record does not look like Lambda's: %+v", r)
	}
	// Lambda sends the creation time as epoch seconds, a JSON number.
	var raw struct {
		Records []struct {
			DynamoDB map[string]json.RawMessage `json:"dynamodb"`
		}
	}
	if err := json.Unmarshal(c.raw, &raw); err != nil || string(raw.Records[0].DynamoDB["ApproximateCreationDateTime"]) != strconv.FormatInt(t0.Unix(), 10) {
		t.Fatalf("ApproximateCreationDateTime on the wire: %s (%v)", raw.Records[0].DynamoDB["ApproximateCreationDateTime"], err)
	}
	c.reply <- ok
	h.expect("100", "101").reply <- ok
	c = h.expect("102")
	if u := c.ev.Records[0].UserIdentity; c.ev.Records[0].EventName != "REMOVE" || u == nil || u.Type != "Service" || u.PrincipalID != "dynamodb.amazonaws.com" {
		t.Fatalf("TTL removal record: %+v", c.ev.Records[0])
	}
	c.reply <- ok
	// Caught up: a new record wakes the mapping.
	seq := src.put("order-5", t0)
	h.expect(seq).reply <- ok
	if err := h.stop(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run returned %v, want context.Canceled", err)
	}
	if p, _ := cp.Load("Fn.Stream"); p != (Position{Table: "Orders", After: seq}) {
		t.Fatalf("checkpoint %+v, want %s", p, seq)
	}
}

func TestPartialFailureRetriesFromFirstFailedRecord(t *testing.T) {
	src := newFakeStream()
	for i := range 4 {
		src.put(fmt.Sprint(i), t0)
	}
	cp := &memCheckpoints{}
	h := run(t, src, Mapping{ReportBatchItemFailures: true, MaximumRetryAttempts: -1, Checkpoints: cp})

	h.expect("98", "99", "100", "101").reply <- result{resp: itemFailures("101", "100")}
	c := h.expect("100", "101")
	if p, _ := cp.Load("Fn.Stream"); p.After != "99" {
		t.Fatalf("checkpoint after a partial failure %q, want 99 (the record before the first failed one)", p.After)
	}
	if d := <-h.waits; d != time.Second {
		t.Errorf("first retry waited %s, want 1s", d)
	}
	c.reply <- result{resp: []byte(`{"batchItemFailures":[]}`)}

	// A response naming no record of the batch fails the whole batch.
	src.put("x", t0)
	src.put("y", t0)
	h.expect("102", "103").reply <- result{resp: itemFailures("999")}
	h.expect("102", "103").reply <- result{resp: []byte(`{"batchItemFailures":[{"itemIdentifier":null}]}`)}
	h.expect("102", "103").reply <- result{resp: []byte(`null`)}
	_ = h.stop()
	if p, _ := cp.Load("Fn.Stream"); p.After != "103" {
		t.Fatalf("final checkpoint %q, want 103", p.After)
	}
}

func TestInvokeErrorRetriesTheBatchUntilExhaustedThenReportsIt(t *testing.T) {
	src := newFakeStream()
	a, b := src.put("a", t0), src.put("b", t0.Add(2*time.Second))
	cp := &memCheckpoints{}
	h := run(t, src, Mapping{MaximumRetryAttempts: 2, ReportBatchItemFailures: true, Checkpoints: cp,
		Now: func() time.Time { return t0.Add(time.Minute) }})
	for range 3 { // the first invocation and 2 retries
		h.expect(a, b).reply <- result{err: errors.New("Runtime.ExitError: exit status 2")}
	}
	for i, want := range []time.Duration{time.Second, 2 * time.Second} {
		if d := <-h.waits; d != want {
			t.Errorf("wait before retry %d: %s, want %s", i+1, d, want)
		}
	}
	f := h.failure()
	if f.Version != "1.0" || f.Timestamp != "2025-03-01T08:01:00.000Z" ||
		f.RequestContext.Condition != "RetryAttemptsExhausted" || f.RequestContext.ApproximateInvokeCount != 3 ||
		f.RequestContext.FunctionArn != "arn:aws:lambda:ap-southeast-1:000000000000:function:Fn" || len(f.RequestContext.RequestID) != 36 ||
		f.ResponseContext == nil || f.ResponseContext.StatusCode != 200 || f.ResponseContext.ExecutedVersion != "$LATEST" || f.ResponseContext.FunctionError != "Unhandled" ||
		f.BatchInfo.StartSequenceNumber != a || f.BatchInfo.EndSequenceNumber != b || f.BatchInfo.BatchSize != 2 ||
		f.BatchInfo.StreamArn != testArn || !strings.HasPrefix(f.BatchInfo.ShardID, "shardId-") ||
		f.BatchInfo.ApproximateArrivalOfFirstRecord != "2025-03-01T08:00:00Z" || f.BatchInfo.ApproximateArrivalOfLastRecord != "2025-03-01T08:00:02Z" {
		t.Fatalf("on-failure record %+v (response %+v)", f, f.ResponseContext)
	}
	// The mapping moves on.
	c := src.put("c", t0)
	h.expect(c).reply <- ok
	_ = h.stop()
	if p, _ := cp.Load("Fn.Stream"); p.After != c {
		t.Fatalf("checkpoint %q, want %s", p.After, c)
	}
}

func TestRetriesForeverByDefault(t *testing.T) {
	src := newFakeStream()
	a := src.put("a", t0)
	h := run(t, src, Mapping{MaximumRetryAttempts: -1})
	for range 20 {
		h.expect(a).reply <- result{err: errors.New("Sandbox.Timedout")}
	}
	h.expect(a).reply <- ok
	b := src.put("b", t0)
	h.expect(b).reply <- ok
	select {
	case f := <-h.failed:
		t.Fatalf("on-failure record with infinite retries: %s", f)
	default:
	}
}

func TestBisectIsolatesThePoisonRecord(t *testing.T) {
	src := newFakeStream()
	a, b, c, d := src.put("a", t0), src.put("b", t0), src.put("c", t0), src.put("d", t0)
	h := run(t, src, Mapping{BisectBatchOnFunctionError: true, MaximumRetryAttempts: 1})
	fail := result{err: errors.New("poison")}
	h.expect(a, b, c, d).reply <- fail
	h.expect(a, b).reply <- ok
	h.expect(c, d).reply <- fail
	h.expect(c).reply <- fail // a single record is not split: this counts as a failure
	h.expect(c).reply <- fail // its one retry
	f := h.failure()
	if f.BatchInfo.StartSequenceNumber != c || f.BatchInfo.EndSequenceNumber != c || f.BatchInfo.BatchSize != 1 ||
		f.RequestContext.ApproximateInvokeCount != 4 || f.RequestContext.Condition != "RetryAttemptsExhausted" {
		t.Fatalf("on-failure record %+v", f)
	}
	h.expect(d).reply <- ok
	// Splitting does not wait; only the counted retry of c did.
	if n := len(h.waits); n != 1 {
		t.Errorf("%d waits, want 1", n)
	}
}

func TestRecordsOlderThanMaximumAgeAreSkipped(t *testing.T) {
	src := newFakeStream()
	old1, old2 := src.put("old1", t0), src.put("old2", t0.Add(10*time.Second))
	fresh := src.put("fresh", t0.Add(90*time.Second))
	now := t0.Add(2 * time.Minute)
	h := run(t, src, Mapping{MaximumRecordAge: time.Minute, Now: func() time.Time { return now }})
	// Only the fresh record reaches the function.
	h.expect(fresh).reply <- ok
	f := h.failure()
	if f.RequestContext.Condition != "RecordAgeExceeded" || f.RequestContext.ApproximateInvokeCount != 0 || f.ResponseContext != nil ||
		f.BatchInfo.StartSequenceNumber != old1 || f.BatchInfo.EndSequenceNumber != old2 || f.BatchInfo.BatchSize != 2 {
		t.Fatalf("on-failure record %+v", f)
	}
}

func TestOnFailureErrorsHoldThePosition(t *testing.T) {
	src := newFakeStream()
	a := src.put("a", t0)
	var attempts int
	cp := &memCheckpoints{}
	h := run(t, src, Mapping{MaximumRetryAttempts: 0, Checkpoints: cp, OnFailure: func(context.Context, []byte) error {
		attempts++
		if attempts < 3 {
			return errors.New("queue unavailable")
		}
		return nil
	}})
	h.expect(a).reply <- result{err: errors.New("boom")}
	b := src.put("b", t0)
	h.expect(b).reply <- ok
	if attempts != 3 {
		t.Fatalf("on-failure destination tried %d times, want 3", attempts)
	}
	_ = h.stop()
	if p, _ := cp.Load("Fn.Stream"); p.After != b {
		t.Fatalf("checkpoint %q", p.After)
	}
}

func TestCheckpointSurvivesRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "streams-checkpoint.json")
	src := newFakeStream()
	a, b := src.put("a", t0), src.put("b", t0)
	cp, err := OpenCheckpoints(path)
	if err != nil {
		t.Fatal(err)
	}
	h := run(t, src, Mapping{Checkpoints: cp})
	h.expect(a, b).reply <- ok
	c := src.put("c", t0)
	h.expect(c) // in flight when the stack stops: never acknowledged
	if err := h.stop(); !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	d := src.put("d", t0) // written while stopped

	cp2, err := OpenCheckpoints(path)
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := cp2.Load("Fn.Stream"); !ok || p.After != b {
		t.Fatalf("checkpoint file holds %+v, want %s", p, b)
	}
	// Even with LATEST, a mapping with a checkpoint resumes from it.
	h2 := run(t, src, Mapping{Checkpoints: cp2, StartingPosition: "LATEST"})
	h2.expect(c, d).reply <- ok
}

func TestStartingPosition(t *testing.T) {
	src := newFakeStream()
	a := src.put("a", t0)
	// LATEST: what is in the stream when the mapping is created is not delivered.
	cp := &memCheckpoints{}
	h := run(t, src, Mapping{StartingPosition: "LATEST", Checkpoints: cp})
	// The position is saved at creation: a restart does not jump past records written since.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if p, ok := cp.Load("Fn.Stream"); ok && p.After == a {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("LATEST position not checkpointed at start")
		}
		time.Sleep(5 * time.Millisecond)
	}
	b := src.put("b", t0)
	h.expect(b).reply <- ok
	// TRIM_HORIZON: from the oldest record.
	h2 := run(t, src, Mapping{Name: "Other.Stream"})
	h2.expect(a, b).reply <- ok
}

func TestCheckpointAheadOfAResetStreamReadsFromTheStart(t *testing.T) {
	src := newFakeStream()
	a := src.put("a", t0) // the stream restarted numbering: its only record is below the checkpoint
	cp := &memCheckpoints{m: map[string]Position{"Fn.Stream": {Table: "Orders", After: "5000"}}}
	h := run(t, src, Mapping{Checkpoints: cp})
	h.expect(a).reply <- ok
	// A checkpoint for another table is ignored.
	cp2 := &memCheckpoints{m: map[string]Position{"Fn.Stream": {Table: "Other", After: a}}}
	h2 := run(t, src, Mapping{Checkpoints: cp2})
	h2.expect(a).reply <- ok
}

func TestBatchingWindowGathersLaterRecords(t *testing.T) {
	src := newFakeStream()
	window := make(chan time.Time)
	asked := make(chan time.Duration, 1)
	h := run(t, src, Mapping{BatchSize: 3, MaximumBatchingWindow: 5 * time.Second, After: func(d time.Duration) <-chan time.Time {
		asked <- d
		return window
	}})
	a := src.put("a", t0)
	if d := <-asked; d != 5*time.Second {
		t.Fatalf("window %s", d)
	}
	b := src.put("b", t0)
	// b arrives inside the window; the batch goes when the window closes.
	deadline := time.Now().Add(10 * time.Second)
	for {
		src.mu.Lock()
		read := src.served[b]
		src.mu.Unlock()
		if read {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the mapping did not read a record appended inside its batching window")
		}
		time.Sleep(time.Millisecond)
	}
	window <- time.Time{}
	h.expect(a, b).reply <- ok
}

func TestLargeRecordsSplitAtThePayloadLimit(t *testing.T) {
	src := newFakeStream()
	big := json.RawMessage(`{"S":"` + strings.Repeat("x", 390*1024) + `"}`)
	var seqs []string
	for i := range 20 { // 20 x 390 KiB: more than one 6 MB invoke
		seqs = append(seqs, src.put(fmt.Sprint(i), t0))
		src.recs[i].NewImage["blob"] = big
	}
	h := run(t, src, Mapping{})
	var got []string
	for len(got) < 20 {
		c := h.next()
		if len(c.raw) > maxPayload {
			t.Fatalf("event of %d bytes exceeds the invoke limit", len(c.raw))
		}
		got = append(got, seqOf(c)...)
		c.reply <- ok
	}
	if strings.Join(got, ",") != strings.Join(seqs, ",") {
		t.Fatalf("delivered %v, want %v", got, seqs)
	}
}

func TestRunRefusesBadMappings(t *testing.T) {
	src := newFakeStream()
	for name, m := range map[string]Mapping{
		"no stream":         {Name: "F.S", Table: "NoStream", StartingPosition: "LATEST"},
		"bad position":      {Name: "F.S", Table: "Orders", StartingPosition: "AT_TIMESTAMP"},
		"batch too large":   {Name: "F.S", Table: "Orders", StartingPosition: "LATEST", BatchSize: 10001},
		"retries below -1":  {Name: "F.S", Table: "Orders", StartingPosition: "LATEST", MaximumRetryAttempts: -2},
		"window over 300s":  {Name: "F.S", Table: "Orders", StartingPosition: "LATEST", MaximumBatchingWindow: 301 * time.Second},
		"age over 7 days":   {Name: "F.S", Table: "Orders", StartingPosition: "LATEST", MaximumRecordAge: 8 * 24 * time.Hour},
		"mapping w/o table": {Name: "F.S", StartingPosition: "LATEST"},
	} {
		if err := Run(context.Background(), src, m, nil); err == nil || errors.Is(err, context.Canceled) {
			t.Errorf("%s: Run returned %v", name, err)
		}
	}
}

func TestSeqLess(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want bool
	}{{"99", "100", true}, {"100", "99", false}, {"100", "101", true}, {"101", "101", false}, {"", "1", true}} {
		if got := SeqLess(c.a, c.b); got != c.want {
			t.Errorf("SeqLess(%q, %q) = %v", c.a, c.b, got)
		}
	}
}

// memCheckpoints is an in-memory Checkpoints.
type memCheckpoints struct {
	mu sync.Mutex
	m  map[string]Position
}

func (c *memCheckpoints) Load(name string) (Position, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ok := c.m[name]
	return p, ok
}

func (c *memCheckpoints) Save(name string, p Position) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]Position{}
	}
	c.m[name] = p
	return nil
}
