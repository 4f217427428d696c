package streammap

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"time"
)

// Mapping is one DynamoDB stream event source mapping (a function's
// `Type: DynamoDB` event).
type Mapping struct {
	// Name identifies the mapping's checkpoint, e.g. "RelayFunction.Stream".
	Name  string
	Table string
	// FunctionArn and Region appear in events and on-failure records.
	FunctionArn string
	Region      string

	StartingPosition           string        // TRIM_HORIZON or LATEST: where a mapping without a checkpoint starts
	BatchSize                  int           // default 100
	MaximumBatchingWindow      time.Duration // how long to gather a fuller batch once a record is in hand
	BisectBatchOnFunctionError bool
	// MaximumRetryAttempts is how often a failed batch is retried before its
	// records are skipped; -1 retries until the records expire (or forever).
	MaximumRetryAttempts int
	// MaximumRecordAge skips records older than this; 0 keeps them however old.
	MaximumRecordAge        time.Duration
	ReportBatchItemFailures bool
	// OnFailure receives the invocation record (JSON) of skipped records; nil
	// drops them. Its errors are retried: the mapping does not move past
	// records whose failure it could not report.
	OnFailure func(ctx context.Context, record []byte) error

	Checkpoints Checkpoints // nil keeps the position in memory only

	// Now is the clock for record ages and timestamps (default time.Now);
	// After waits between retries and for the batching window (default
	// time.After); Backoff is the wait before retry n (default 1s doubling
	// to 30s).
	Now     func() time.Time
	After   func(time.Duration) <-chan time.Time
	Backoff func(retry int) time.Duration
	// Logf reports skipped records and errors; nil is silent.
	Logf func(format string, args ...any)
}

// InvokeFunc invokes the function with an event and returns its response. A
// non-nil error is a failed invocation (function error, crash, timeout).
type InvokeFunc func(ctx context.Context, event []byte) ([]byte, error)

// Validate checks a mapping's settings against Lambda's limits.
func (m Mapping) Validate() error {
	switch {
	case m.Name == "" || m.Table == "":
		return errors.New("streammap: mapping without a name or table")
	case m.StartingPosition != "TRIM_HORIZON" && m.StartingPosition != "LATEST":
		return fmt.Errorf("streammap: %s: StartingPosition %q (want TRIM_HORIZON or LATEST)", m.Name, m.StartingPosition)
	case m.BatchSize < 0 || m.BatchSize > 10000:
		return fmt.Errorf("streammap: %s: BatchSize %d (1 to 10000)", m.Name, m.BatchSize)
	case m.MaximumRetryAttempts < -1 || m.MaximumRetryAttempts > 10000:
		return fmt.Errorf("streammap: %s: MaximumRetryAttempts %d (-1 to 10000)", m.Name, m.MaximumRetryAttempts)
	case m.MaximumRecordAge < 0 || m.MaximumRecordAge > 7*24*time.Hour:
		return fmt.Errorf("streammap: %s: MaximumRecordAge %s (up to 7 days)", m.Name, m.MaximumRecordAge)
	case m.MaximumBatchingWindow < 0 || m.MaximumBatchingWindow > 300*time.Second:
		return fmt.Errorf("streammap: %s: MaximumBatchingWindow %s (up to 300s)", m.Name, m.MaximumBatchingWindow)
	}
	return nil
}

// batch is a run of consecutive records being delivered.
type batch struct {
	recs    []Record
	invokes int // invocations so far (approximateInvokeCount)
	retries int // failed invocations counted against MaximumRetryAttempts
	resp    *responseContext
}

// Runner is a started mapping: its position is set (from its checkpoint, or
// from StartingPosition) and Run delivers from there.
type Runner struct {
	Mapping
	src    Source
	invoke InvokeFunc
	arn    string
	pos    string  // last sequence number done with
	work   []batch // batches to deliver before reading on (bisected halves)

	position atomic.Pointer[string] // pos, for readers outside Run
}

// CaughtUp reports whether every record the stream holds now has been
// delivered (or given up on): nothing is in flight or waiting for a retry.
func (r *Runner) CaughtUp() bool {
	pos := ""
	if p := r.position.Load(); p != nil {
		pos = *p
	}
	recs, err := r.src.ReadStream(r.Table, pos, 1)
	return err == nil && len(recs) == 0
}

// Run starts m and delivers the table's stream to invoke until ctx ends,
// then returns ctx.Err(). It fails at once for an invalid mapping or a table
// without a stream.
func Run(ctx context.Context, src Source, m Mapping, invoke InvokeFunc) error {
	r, err := Start(src, m, invoke)
	if err != nil {
		return err
	}
	return r.Run(ctx)
}

// Start checks m and sets its position: a mapping with a checkpoint resumes
// from it; one without starts at the stream's oldest record (TRIM_HORIZON)
// or after its newest (LATEST, checkpointed at once so that a restart does
// not skip what was written in between).
func Start(src Source, m Mapping, invoke InvokeFunc) (*Runner, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	if m.BatchSize == 0 {
		m.BatchSize = 100
	}
	if m.Now == nil {
		m.Now = time.Now
	}
	if m.After == nil {
		m.After = time.After
	}
	if m.Backoff == nil {
		m.Backoff = func(n int) time.Duration { return min(time.Second<<min(n-1, 5), 30*time.Second) }
	}
	if m.Logf == nil {
		m.Logf = func(string, ...any) {}
	}
	r := &Runner{Mapping: m, src: src, invoke: invoke, arn: src.StreamArn(m.Table)}
	if r.arn == "" {
		return nil, fmt.Errorf("streammap: %s: table %s has no stream", m.Name, m.Table)
	}
	if err := r.start(); err != nil {
		return nil, err
	}
	pos := r.pos
	r.position.Store(&pos)
	return r, nil
}

// Run delivers the stream until ctx ends, then returns ctx.Err().
func (r *Runner) Run(ctx context.Context) error {
	for ctx.Err() == nil {
		if len(r.work) == 0 {
			recs, err := r.read(ctx)
			if err != nil {
				if ctx.Err() == nil {
					r.Logf("%s: reading the stream of %s: %v", r.Name, r.Table, err)
					r.wait(ctx, r.Backoff(1))
				}
				continue
			}
			r.work = append(r.work, batch{recs: recs})
		}
		r.deliver(ctx)
	}
	return ctx.Err()
}

// start sets the position from the checkpoint, or from StartingPosition. A
// stream that holds nothing after a checkpoint's record, or only records
// numbered below it, was reset (its records were not kept): reading it from
// its oldest record then delivers exactly the records written since.
func (r *Runner) start() error {
	tip, err := r.tip()
	if err != nil {
		return fmt.Errorf("streammap: %s: reading the stream of %s: %w", r.Name, r.Table, err)
	}
	if p, ok := r.load(); ok {
		r.pos = p
		if tip == "" || SeqLess(tip, p) {
			if tip != "" {
				r.Logf("%s: the stream of %s ends at %s, before the checkpoint %s: reading it from the start", r.Name, r.Table, tip, p)
			}
			r.pos = ""
		}
		return nil
	}
	if r.StartingPosition == "LATEST" {
		r.pos = tip
		r.save()
	}
	return nil
}

func (r *Runner) load() (string, bool) {
	if r.Checkpoints == nil {
		return "", false
	}
	p, ok := r.Checkpoints.Load(r.Name)
	if !ok || p.Table != r.Table {
		return "", false
	}
	return p.After, true
}

func (r *Runner) save() {
	if r.Checkpoints == nil {
		return
	}
	if err := r.Checkpoints.Save(r.Name, Position{Table: r.Table, After: r.pos}); err != nil {
		r.Logf("%s: saving the checkpoint: %v", r.Name, err)
	}
}

// tip is the sequence number of the newest record in the stream ("" if empty).
func (r *Runner) tip() (string, error) {
	after := ""
	for {
		recs, err := r.src.ReadStream(r.Table, after, 1000)
		if err != nil {
			return "", err
		}
		if len(recs) == 0 {
			return after, nil
		}
		after = recs[len(recs)-1].SequenceNumber
	}
}

// read blocks until records follow the position and returns up to BatchSize
// of them, gathering for up to MaximumBatchingWindow to fill the batch.
func (r *Runner) read(ctx context.Context) ([]Record, error) {
	var recs []Record
	for {
		changed := r.src.StreamChanged(r.Table)
		var err error
		if recs, err = r.src.ReadStream(r.Table, r.pos, r.BatchSize); err != nil {
			return nil, err
		}
		if len(recs) > 0 {
			break
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if r.MaximumBatchingWindow > 0 && len(recs) < r.BatchSize {
		window := r.After(r.MaximumBatchingWindow)
	gather:
		for len(recs) < r.BatchSize {
			changed := r.src.StreamChanged(r.Table)
			more, err := r.src.ReadStream(r.Table, recs[len(recs)-1].SequenceNumber, r.BatchSize-len(recs))
			if err != nil {
				break
			}
			recs = append(recs, more...)
			if len(recs) >= r.BatchSize || len(more) > 0 {
				continue
			}
			select {
			case <-changed:
			case <-window:
				break gather
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
	}
	return recs, nil
}

// deliver makes one attempt at the first pending batch.
func (r *Runner) deliver(ctx context.Context) {
	b := &r.work[0]
	if r.MaximumRecordAge > 0 {
		now := r.Now()
		old := 0
		for old < len(b.recs) && now.Sub(b.recs[old].ApproximateCreationDateTime) > r.MaximumRecordAge {
			old++
		}
		if old > 0 {
			if !r.giveUp(ctx, *b, b.recs[:old], "RecordAgeExceeded") {
				return
			}
			b.recs = b.recs[old:]
			if len(b.recs) == 0 {
				r.work = r.work[1:]
				return
			}
		}
	}
	event, n := r.event(b.recs)
	if n < len(b.recs) { // over the payload limit: the rest waits for the next batch
		rest := batch{recs: b.recs[n:]}
		b.recs = b.recs[:n]
		r.work = append(r.work[:1], append([]batch{rest}, r.work[1:]...)...)
		b = &r.work[0]
	}
	resp, err := r.invoke(ctx, event)
	if err != nil && ctx.Err() != nil {
		return // stopping: the batch is delivered again after a restart
	}
	b.invokes++
	b.resp = &responseContext{StatusCode: 200, ExecutedVersion: "$LATEST"}
	failedFrom := 0
	switch {
	case err != nil:
		b.resp.FunctionError = "Unhandled"
		r.Logf("%s: batch of %d records (%s..%s) failed: %v", r.Name, len(b.recs), b.recs[0].SequenceNumber, b.recs[len(b.recs)-1].SequenceNumber, err)
		if r.BisectBatchOnFunctionError && len(b.recs) > 1 {
			// Splitting does not count as a retry.
			half := len(b.recs) / 2
			first, second := *b, *b
			first.recs, second.recs = b.recs[:half], b.recs[half:]
			r.work = append([]batch{first, second}, r.work[1:]...)
			return
		}
	default:
		var ok bool
		if failedFrom, ok = r.firstFailure(resp, b.recs); !ok {
			failedFrom = 0
		} else if failedFrom == len(b.recs) {
			r.done(b.recs[len(b.recs)-1].SequenceNumber)
			r.work = r.work[1:]
			return
		}
		if failedFrom > 0 {
			r.done(b.recs[failedFrom-1].SequenceNumber)
			b.recs = b.recs[failedFrom:]
		}
	}
	b.retries++
	if r.MaximumRetryAttempts >= 0 && b.retries > r.MaximumRetryAttempts {
		if r.giveUp(ctx, *b, b.recs, "RetryAttemptsExhausted") {
			r.work = r.work[1:]
		}
		return
	}
	r.wait(ctx, r.Backoff(b.retries))
}

// firstFailure reads a partial batch response: the index of the first
// failed record (len(recs) when all succeeded). ok is false when the whole
// batch counts as failed: an unreadable response, or an item identifier
// that is empty or names no record of the batch.
func (r *Runner) firstFailure(resp []byte, recs []Record) (int, bool) {
	if !r.ReportBatchItemFailures || len(resp) == 0 || string(resp) == "null" {
		return len(recs), true
	}
	var out struct {
		BatchItemFailures []struct {
			ItemIdentifier *string `json:"itemIdentifier"`
		} `json:"batchItemFailures"`
	}
	if err := json.Unmarshal(resp, &out); err != nil {
		r.Logf("%s: unreadable partial batch response %.200q: the whole batch failed", r.Name, resp)
		return 0, false
	}
	index := make(map[string]int, len(recs))
	for i, rec := range recs {
		index[rec.SequenceNumber] = i
	}
	first := len(recs)
	for _, f := range out.BatchItemFailures {
		if f.ItemIdentifier == nil {
			r.Logf("%s: batch item failure without an itemIdentifier: the whole batch failed", r.Name)
			return 0, false
		}
		i, ok := index[*f.ItemIdentifier]
		if !ok {
			r.Logf("%s: batch item failure %q names no record of the batch: the whole batch failed", r.Name, *f.ItemIdentifier)
			return 0, false
		}
		first = min(first, i)
	}
	return first, true
}

// event encodes as many leading records as fit in one invoke payload (at
// least one) and returns the event and that count.
func (r *Runner) event(recs []Record) ([]byte, int) {
	var enc [][]byte
	size := len(`{"Records":[]}`)
	for _, rec := range recs {
		b, err := encodeRecord(rec, r.Region, r.arn)
		if err != nil { // images are raw JSON the stream produced: cannot happen
			panic(fmt.Sprintf("streammap: encoding record %s: %v", rec.SequenceNumber, err))
		}
		if len(enc) > 0 && size+len(b)+1 > maxPayload {
			break
		}
		enc = append(enc, b)
		size += len(b) + 1
	}
	return encodeEvent(enc), len(enc)
}

// giveUp reports skipped records to the on-failure destination and moves
// past them. It returns false, having moved nowhere, if ctx ended first.
func (r *Runner) giveUp(ctx context.Context, b batch, recs []Record, condition string) bool {
	first, last := recs[0], recs[len(recs)-1]
	r.Logf("%s: skipping %d records %s..%s of %s (%s after %d invocations)", r.Name, len(recs), first.SequenceNumber, last.SequenceNumber, r.Table, condition, b.invokes)
	if r.OnFailure != nil {
		rec, err := json.Marshal(failureRecord{
			Version:   "1.0",
			Timestamp: isoMillis(r.Now()),
			RequestContext: requestContext{RequestID: newRequestID(), FunctionArn: r.FunctionArn,
				Condition: condition, ApproximateInvokeCount: b.invokes},
			ResponseContext: b.resp,
			BatchInfo: batchInfo{
				ShardID:                         shardID(r.arn),
				StartSequenceNumber:             first.SequenceNumber,
				EndSequenceNumber:               last.SequenceNumber,
				ApproximateArrivalOfFirstRecord: first.ApproximateCreationDateTime.UTC().Format(time.RFC3339),
				ApproximateArrivalOfLastRecord:  last.ApproximateCreationDateTime.UTC().Format(time.RFC3339),
				BatchSize:                       len(recs),
				StreamArn:                       r.arn,
			},
		})
		if err != nil {
			panic(err)
		}
		for attempt := 1; ; attempt++ {
			err := r.OnFailure(ctx, rec)
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				return false
			}
			r.Logf("%s: sending the on-failure record: %v", r.Name, err)
			r.wait(ctx, r.Backoff(attempt))
		}
	}
	r.done(last.SequenceNumber)
	return true
}

// done moves the position to seq and checkpoints it.
func (r *Runner) done(seq string) {
	r.pos = seq
	r.save()
	r.position.Store(&seq)
}

func (r *Runner) wait(ctx context.Context, d time.Duration) {
	select {
	case <-r.After(d):
	case <-ctx.Done():
	}
}
