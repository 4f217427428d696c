package sqsemu

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Attribute is a message attribute as carried on the SQS JSON wire.
type Attribute struct {
	DataType    string  `json:"DataType"`
	StringValue *string `json:"StringValue,omitempty"`
	BinaryValue []byte  `json:"BinaryValue,omitempty"`
}

// message is one stored message.
type message struct {
	ID           string               `json:"id"`
	Body         string               `json:"body"`
	Attributes   map[string]Attribute `json:"attributes,omitempty"`
	SenderID     string               `json:"senderId"`
	Sent         time.Time            `json:"sent"`
	FirstReceive time.Time            `json:"firstReceive"`
	ReceiveCount int                  `json:"receiveCount"`
	VisibleAt    time.Time            `json:"visibleAt"`
	DLQSource    string               `json:"dlqSource,omitempty"` // ARN of the queue it was redriven from
	GroupID      string               `json:"groupId,omitempty"`   // MessageGroupId
	DedupID      string               `json:"dedupId,omitempty"`   // MessageDeduplicationId (FIFO)
	Sequence     string               `json:"sequence,omitempty"`  // SequenceNumber (FIFO)

	receipt string // current receipt handle; "" when never received in this process
}

// delivery is an immutable copy of a message as handed to one receiver.
type delivery struct {
	ID, Body, ReceiptHandle, SenderID string
	Attributes                        map[string]Attribute
	Sent, FirstReceive                time.Time
	ReceiveCount                      int
	GroupID, DedupID, Sequence        string
}

// fifoState is what a FIFO queue remembers beyond its messages.
type fifoState struct {
	Seq   uint64                `json:"seq"`   // last SequenceNumber issued
	Dedup map[string]dedupEntry `json:"dedup"` // deduplication key -> first accepted send

	order []string // Dedup's keys, oldest first (so pruning stops at the first live one)
}

// dedupEntry is a send accepted within the deduplication interval.
type dedupEntry struct {
	MessageID string    `json:"messageId"`
	Sequence  string    `json:"sequence"`
	At        time.Time `json:"at"`
}

// remember records an accepted send under key.
func (f *fifoState) remember(key string, d dedupEntry) {
	f.Dedup[key] = d
	f.order = append(f.order, key)
}

// setDedup replaces the remembered sends (restoring a snapshot).
func (f *fifoState) setDedup(entries map[string]dedupEntry) {
	f.Dedup = make(map[string]dedupEntry, len(entries))
	f.order = f.order[:0]
	for k, d := range entries {
		f.Dedup[k] = d
		f.order = append(f.order, k)
	}
	sort.Slice(f.order, func(i, j int) bool { return f.Dedup[f.order[i]].At.Before(f.Dedup[f.order[j]].At) })
}

// nextSequence issues the queue's next SequenceNumber: a 20-digit decimal
// that increases with every message, as SQS's do.
func (f *fifoState) nextSequence() string {
	f.Seq++
	return fmt.Sprintf("1%019d", f.Seq)
}

// dedupKey is the key a send is deduplicated under for the queue's scope.
func (q *queue) dedupKey(group, dedupID string) string {
	if q.cfg.DeduplicationScope == "messageGroup" {
		return group + "\x00" + dedupID
	}
	return dedupID
}

// prune forgets deduplication ids older than the interval.
func (f *fifoState) prune(now time.Time) {
	n := 0
	for n < len(f.order) && now.Sub(f.Dedup[f.order[n]].At) >= DeduplicationInterval {
		delete(f.Dedup, f.order[n])
		n++
	}
	f.order = f.order[n:]
}

type queue struct {
	cfg       QueueConfig
	arn       string
	msgs      []*message // send order
	byReceipt map[string]*message
	created   time.Time
	fifo      *fifoState // nil for a standard queue
}

// counts returns visible, not-visible (in flight) and delayed counts.
func (q *queue) counts(now time.Time) (visible, inFlight, delayed int) {
	for _, m := range q.msgs {
		switch {
		case !m.VisibleAt.After(now):
			visible++
		case m.ReceiveCount == 0:
			delayed++
		default:
			inFlight++
		}
	}
	return visible, inFlight, delayed
}

func (q *queue) removeAt(i int) {
	m := q.msgs[i]
	if m.receipt != "" {
		delete(q.byReceipt, m.receipt)
	}
	copy(q.msgs[i:], q.msgs[i+1:])
	q.msgs[len(q.msgs)-1] = nil
	q.msgs = q.msgs[:len(q.msgs)-1]
}

func (q *queue) remove(m *message) {
	for i, x := range q.msgs {
		if x == m {
			q.removeAt(i)
			return
		}
	}
}

// outgoing is a validated message to enqueue.
type outgoing struct {
	body    string
	attrs   map[string]Attribute
	delay   time.Duration
	group   string // MessageGroupId (required on FIFO queues)
	dedupID string // MessageDeduplicationId, FIFO only (already derived from the body if content-based)
}

// sendLocked appends a new message and returns its id and, on a FIFO queue,
// its sequence number. A FIFO send whose deduplication id was accepted within
// the deduplication interval is not enqueued again: the first send's id and
// sequence number are returned, as SQS does.
func (s *Server) sendLocked(q *queue, o outgoing) (id, seq string) {
	now := s.now()
	var key string
	if q.fifo != nil {
		q.fifo.prune(now)
		key = q.dedupKey(o.group, o.dedupID)
		if d, ok := q.fifo.Dedup[key]; ok {
			return d.MessageID, d.Sequence
		}
	}
	m := &message{
		ID:         newID(),
		Body:       o.body,
		Attributes: o.attrs,
		SenderID:   s.account,
		Sent:       now,
		VisibleAt:  now.Add(o.delay),
		GroupID:    o.group,
	}
	if q.fifo != nil {
		m.DedupID = o.dedupID
		m.Sequence = q.fifo.nextSequence()
		q.fifo.remember(key, dedupEntry{MessageID: m.ID, Sequence: m.Sequence, At: now})
	}
	q.msgs = append(q.msgs, m)
	if o.delay > 0 {
		s.wakeAtLocked(m.VisibleAt)
	} else {
		s.broadcastLocked()
	}
	return m.ID, m.Sequence
}

// receiveLocked takes up to max visible messages, makes them invisible for
// vis, and moves messages past their queue's MaxReceiveCount to its DLQ. On a
// FIFO queue it takes messages in send order and skips every group whose
// earliest remaining message is not visible (in flight or delayed), so a
// group's messages are handed out in order and one receive's worth at a time.
func (s *Server) receiveLocked(q *queue, max int, vis time.Duration) []delivery {
	now := s.now()
	var out []delivery
	var blocked map[string]bool
	if q.fifo != nil {
		blocked = map[string]bool{}
	}
	moved := false
	for i := 0; i < len(q.msgs) && len(out) < max; {
		m := q.msgs[i]
		if now.Sub(m.Sent) >= q.cfg.MessageRetention {
			q.removeAt(i)
			continue
		}
		if blocked != nil && blocked[m.GroupID] {
			i++
			continue
		}
		if m.VisibleAt.After(now) {
			if blocked != nil {
				blocked[m.GroupID] = true
			}
			i++
			continue
		}
		if q.cfg.DeadLetterQueue != "" && q.cfg.MaxReceiveCount > 0 && m.ReceiveCount >= q.cfg.MaxReceiveCount {
			q.removeAt(i)
			dlq := s.queues[q.cfg.DeadLetterQueue]
			m.receipt = ""
			m.ReceiveCount = 0
			m.FirstReceive = time.Time{}
			m.VisibleAt = now
			m.DLQSource = q.arn
			if dlq.fifo != nil {
				m.Sequence = dlq.fifo.nextSequence()
			}
			dlq.msgs = append(dlq.msgs, m)
			moved = true
			continue
		}
		if m.receipt != "" {
			delete(q.byReceipt, m.receipt)
		}
		m.receipt = newReceipt(m.ID)
		q.byReceipt[m.receipt] = m
		m.ReceiveCount++
		if m.FirstReceive.IsZero() {
			m.FirstReceive = now
		}
		m.VisibleAt = now.Add(vis)
		out = append(out, delivery{
			ID: m.ID, Body: m.Body, ReceiptHandle: m.receipt, SenderID: m.SenderID,
			Attributes: m.Attributes, Sent: m.Sent, FirstReceive: m.FirstReceive,
			ReceiveCount: m.ReceiveCount, GroupID: m.GroupID, DedupID: m.DedupID, Sequence: m.Sequence,
		})
		i++
	}
	if len(out) > 0 {
		if vis > 0 {
			s.wakeAtLocked(now.Add(vis))
		} else {
			s.broadcastLocked()
		}
	}
	if moved {
		s.broadcastLocked()
	}
	return out
}

// deleteLocked deletes the message whose current receipt handle is rh. A
// syntactically valid but stale handle (the message was received again
// since, or is already gone) is a silent no-op, as in SQS.
func (s *Server) deleteLocked(q *queue, rh string) error {
	if !validReceipt(rh) {
		return errReceiptInvalid(rh)
	}
	if m, ok := q.byReceipt[rh]; ok {
		q.remove(m)
	}
	return nil
}

// changeVisibilityLocked sets the remaining invisibility of an in-flight message.
func (s *Server) changeVisibilityLocked(q *queue, rh string, vis time.Duration) error {
	if !validReceipt(rh) {
		return errReceiptInvalid(rh)
	}
	m, ok := q.byReceipt[rh]
	if !ok {
		return errReceiptInvalid(rh)
	}
	now := s.now()
	if !m.VisibleAt.After(now) {
		return &apiError{typ: "MessageNotInflight", query: "AWS.SimpleQueueService.MessageNotInflight",
			msg: "Message does not exist or is not available for visibility timeout change."}
	}
	m.VisibleAt = now.Add(vis)
	if vis > 0 {
		s.wakeAtLocked(m.VisibleAt)
	} else {
		s.broadcastLocked()
	}
	return nil
}

func (s *Server) purgeLocked(q *queue) {
	q.msgs = nil
	q.byReceipt = make(map[string]*message)
}

func newID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// newReceipt builds an opaque handle unique to one receive of message id.
func newReceipt(id string) string {
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString([]byte(id + ":" + hex.EncodeToString(b[:])))
}

func validReceipt(rh string) bool {
	raw, err := base64.RawURLEncoding.DecodeString(rh)
	if err != nil {
		return false
	}
	id, nonce, ok := strings.Cut(string(raw), ":")
	return ok && len(id) == 36 && len(nonce) == 48
}

func errReceiptInvalid(rh string) error {
	return &apiError{typ: "ReceiptHandleIsInvalid", query: "ReceiptHandleIsInvalid",
		msg: fmt.Sprintf("The input receipt handle %q is not a valid receipt handle.", rh)}
}
