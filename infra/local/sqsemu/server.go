// Package sqsemu is a local, in-memory SQS endpoint speaking the AWS JSON 1.0
// protocol used by aws-sdk-go-v2's sqs client, plus Lambda-style event source
// mappings (RunMapping) and JSON snapshots of queue contents.
//
// Standard and FIFO queues are supported. A FIFO queue (name ending in
// ".fifo") requires a MessageGroupId on every message, deduplicates sends by
// MessageDeduplicationId (or the body's SHA-256 with ContentBasedDeduplication)
// within a 5-minute window measured on the server's clock, numbers messages
// with increasing SequenceNumbers, and never hands out a message of a group
// while an earlier message of that group is in flight.
//
// Queues are fixed at construction (they come from the SAM template).
// Visibility-timeout expiry and delayed messages are driven by a timer that
// wakes blocked receivers; no goroutine polls.
package sqsemu

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"
)

// Defaults applied to zero-valued QueueConfig fields (the SQS defaults).
const (
	DefaultVisibilityTimeout = 30 * time.Second
	DefaultMessageRetention  = 4 * 24 * time.Hour
	// DeduplicationInterval is how long a FIFO queue remembers a deduplication id.
	DeduplicationInterval = 5 * time.Minute
	maxBatchEntries       = 10
	maxMessageBytes       = 256 * 1024
)

// QueueConfig declares one queue.
type QueueConfig struct {
	Name              string
	VisibilityTimeout time.Duration // default 30s
	MessageRetention  time.Duration // default 4 days
	DelaySeconds      int           // default delivery delay for SendMessage
	DeadLetterQueue   string        // name of the DLQ (must also be declared); "" for none
	MaxReceiveCount   int           // receives allowed before a message moves to the DLQ

	// FIFO queues: FifoQueue requires a name ending in ".fifo" (and the other
	// way round), and a FIFO queue's dead-letter queue must be FIFO too.
	FifoQueue                 bool
	ContentBasedDeduplication bool
	DeduplicationScope        string // "queue" (default) or "messageGroup"
	FifoThroughputLimit       string // "perQueue" (default) or "perMessageGroupId"; reported only
}

// check validates a queue declaration and fills the FIFO defaults.
func (qc *QueueConfig) check() error {
	if qc.FifoQueue != strings.HasSuffix(qc.Name, ".fifo") {
		return fmt.Errorf("queue %q: a FIFO queue's name must end in .fifo, and only a FIFO queue's", qc.Name)
	}
	if !qc.FifoQueue {
		if qc.ContentBasedDeduplication || qc.DeduplicationScope != "" || qc.FifoThroughputLimit != "" {
			return fmt.Errorf("queue %q: FIFO attributes on a standard queue", qc.Name)
		}
		return nil
	}
	if qc.DeduplicationScope == "" {
		qc.DeduplicationScope = "queue"
	}
	if qc.FifoThroughputLimit == "" {
		qc.FifoThroughputLimit = "perQueue"
	}
	if qc.DeduplicationScope != "queue" && qc.DeduplicationScope != "messageGroup" {
		return fmt.Errorf("queue %q: DeduplicationScope %q (want queue or messageGroup)", qc.Name, qc.DeduplicationScope)
	}
	if qc.FifoThroughputLimit != "perQueue" && qc.FifoThroughputLimit != "perMessageGroupId" {
		return fmt.Errorf("queue %q: FifoThroughputLimit %q (want perQueue or perMessageGroupId)", qc.Name, qc.FifoThroughputLimit)
	}
	if qc.FifoThroughputLimit == "perMessageGroupId" && qc.DeduplicationScope != "messageGroup" {
		return fmt.Errorf("queue %q: FifoThroughputLimit perMessageGroupId requires DeduplicationScope messageGroup", qc.Name)
	}
	return nil
}

// Config configures a Server.
type Config struct {
	Queues    []QueueConfig
	Region    string           // default "ap-southeast-1"
	AccountID string           // default "000000000000"
	Now       func() time.Time // default time.Now
}

// Server is an in-memory SQS endpoint. It is safe for concurrent use.
type Server struct {
	region, account string
	now             func() time.Time

	mu      sync.Mutex
	baseURL string
	queues  map[string]*queue
	changed chan struct{} // closed (and replaced) whenever a queue may have become receivable

	waitHook func() // tests: called each time a receiver is about to block

	timer        *time.Timer
	closed       bool
	timerPending bool
	timerAt      time.Time
}

// New builds a Server. It panics if a queue is declared twice, is badly
// declared (see QueueConfig), or names an undeclared dead-letter queue or one
// of the other kind (FIFO/standard): all are template bugs.
func New(cfg Config) *Server {
	s := &Server{
		region:  cfg.Region,
		account: cfg.AccountID,
		now:     cfg.Now,
		queues:  make(map[string]*queue),
		changed: make(chan struct{}),
	}
	if s.region == "" {
		s.region = "ap-southeast-1"
	}
	if s.account == "" {
		s.account = "000000000000"
	}
	if s.now == nil {
		s.now = time.Now
	}
	created := s.now()
	for _, qc := range cfg.Queues {
		if qc.Name == "" {
			panic("sqsemu: queue without a name")
		}
		if _, dup := s.queues[qc.Name]; dup {
			panic(fmt.Sprintf("sqsemu: queue %q declared twice", qc.Name))
		}
		if err := qc.check(); err != nil {
			panic("sqsemu: " + err.Error())
		}
		if qc.VisibilityTimeout <= 0 {
			qc.VisibilityTimeout = DefaultVisibilityTimeout
		}
		if qc.MessageRetention <= 0 {
			qc.MessageRetention = DefaultMessageRetention
		}
		q := &queue{
			cfg:       qc,
			arn:       s.QueueArn(qc.Name),
			byReceipt: make(map[string]*message),
			created:   created,
		}
		if qc.FifoQueue {
			q.fifo = &fifoState{Dedup: map[string]dedupEntry{}}
		}
		s.queues[qc.Name] = q
	}
	for _, q := range s.queues {
		if dlq := q.cfg.DeadLetterQueue; dlq != "" {
			d, ok := s.queues[dlq]
			if !ok {
				panic(fmt.Sprintf("sqsemu: queue %q names undeclared dead-letter queue %q", q.cfg.Name, dlq))
			}
			if d.cfg.FifoQueue != q.cfg.FifoQueue {
				panic(fmt.Sprintf("sqsemu: queue %q and its dead-letter queue %q must both be FIFO or both standard", q.cfg.Name, dlq))
			}
		}
	}
	return s
}

// Handler returns the HTTP handler serving the SQS JSON protocol on POST /.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

// SetBaseURL sets the scheme://host[:port] used in queue URLs (e.g. the
// httptest server URL). Without it, URLs use the Host of each request.
func (s *Server) SetBaseURL(u string) {
	s.mu.Lock()
	s.baseURL = strings.TrimRight(u, "/")
	s.mu.Unlock()
}

// QueueURL returns http://<host>/<accountId>/<name>.
func (s *Server) QueueURL(name string) string {
	s.mu.Lock()
	base := s.baseURL
	s.mu.Unlock()
	return base + "/" + s.account + "/" + name
}

// QueueArn returns arn:aws:sqs:<region>:<account>:<name>.
func (s *Server) QueueArn(name string) string {
	return "arn:aws:sqs:" + s.region + ":" + s.account + ":" + name
}

// QueueNames lists the declared queues, sorted.
func (s *Server) QueueNames() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	names := make([]string, 0, len(s.queues))
	for n := range s.queues {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Depth reports the visible and in-flight (not visible, including delayed)
// message counts of a queue; ok is false for an unknown queue.
func (s *Server) Depth(name string) (visible, inFlight int, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q, ok := s.queues[name]
	if !ok {
		return 0, 0, false
	}
	visible, inFlight, delayed := q.counts(s.now())
	return visible, inFlight + delayed, true
}

// Wake makes blocked receivers re-check their queues. The built-in timer does
// this when a visibility timeout expires; call Wake after moving an injected
// clock forward.
func (s *Server) Wake() {
	s.mu.Lock()
	s.broadcastLocked()
	s.rescheduleLocked()
	s.mu.Unlock()
}

// broadcastLocked wakes every waiter.
func (s *Server) broadcastLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// wakeAtLocked makes sure the timer fires no later than at.
func (s *Server) wakeAtLocked(at time.Time) {
	if s.closed || s.timerPending && !s.timerAt.After(at) {
		return
	}
	d := at.Sub(s.now())
	if d < 0 {
		d = 0
	}
	s.timerAt = at
	s.timerPending = true
	if s.timer == nil {
		s.timer = time.AfterFunc(d, s.onTimer)
		return
	}
	s.timer.Reset(d)
}

func (s *Server) onTimer() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.timerPending = false
	s.broadcastLocked()
	s.rescheduleLocked()
}

// rescheduleLocked arms the timer for the earliest future visibility change.
func (s *Server) rescheduleLocked() {
	now := s.now()
	var next time.Time
	for _, q := range s.queues {
		for _, m := range q.msgs {
			if m.VisibleAt.After(now) && (next.IsZero() || m.VisibleAt.Before(next)) {
				next = m.VisibleAt
			}
		}
	}
	if !next.IsZero() {
		s.wakeAtLocked(next)
	}
}

// Close stops the internal timer. Blocked receivers return when their
// contexts end.
func (s *Server) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.timer != nil {
		s.timer.Stop()
	}
	s.closed = true
	s.timerPending = false
}
