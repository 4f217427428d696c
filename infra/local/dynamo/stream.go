package dynamo

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// A table created with StreamSpecification {StreamEnabled: true} gets a
// DynamoDB stream: every item write that changes an item appends one record,
// in the order of the writes (one shard). Records are kept 24 hours and saved
// with the snapshot. The local stack's event source mappings read them with
// ReadStream and wait on StreamChanged.

// StreamRetention is how long stream records are kept, as in DynamoDB.
const StreamRetention = 24 * time.Hour

// StreamRecord is one item-level change, shaped like a DynamoDB Streams record.
type StreamRecord struct {
	EventID                     string
	EventName                   string // INSERT | MODIFY | REMOVE
	SequenceNumber              string // per-table, strictly increasing; compare with SeqLess
	Keys                        map[string]json.RawMessage
	NewImage                    map[string]json.RawMessage `json:",omitempty"`
	OldImage                    map[string]json.RawMessage `json:",omitempty"`
	ApproximateCreationDateTime time.Time
	SizeBytes                   int64
	StreamViewType              string
	UserIdentity                *StreamIdentity `json:",omitempty"` // nil unless deleted by TTL
}

// StreamIdentity says who made a change; DynamoDB sets it only on TTL
// deletions: {Type: "Service", PrincipalID: "dynamodb.amazonaws.com"}.
type StreamIdentity struct{ Type, PrincipalID string }

var ttlIdentity = &StreamIdentity{Type: "Service", PrincipalID: "dynamodb.amazonaws.com"}

var streamViewTypes = map[string]bool{"KEYS_ONLY": true, "NEW_IMAGE": true, "OLD_IMAGE": true, "NEW_AND_OLD_IMAGES": true}

type stream struct {
	viewType string
	label    string // creation time, as in the stream ARN
	last     uint64 // last sequence number handed out
	records  []StreamRecord
}

const seqDigits = 21

func formatSeq(n uint64) string { return fmt.Sprintf("%0*d", seqDigits, n) }

// SeqLess reports whether sequence number a comes before b.
func SeqLess(a, b string) bool {
	a, b = strings.TrimLeft(a, "0"), strings.TrimLeft(b, "0")
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}

// newStream starts a stream at now. Sequence numbers start from the creation
// time so that a stream created later (e.g. after a restart without a
// snapshot) never reuses an earlier stream's numbers.
func newStream(viewType string, now time.Time) *stream {
	return &stream{viewType: viewType, label: now.UTC().Format("2006-01-02T15:04:05.000"), last: uint64(now.Unix()) * 1_000_000}
}

func (s *Server) streamArn(table string, st *stream) string {
	return "arn:aws:dynamodb:" + s.region + ":" + s.account + ":table/" + table + "/stream/" + st.label
}

// StreamArn returns the table's stream ARN ("" if the table has no stream).
func (s *Server) StreamArn(table string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st := s.streams[table]; st != nil {
		return s.streamArn(table, st)
	}
	return ""
}

// ReadStream returns up to limit records after sequence number after ("" =
// from the oldest retained), oldest first. limit <= 0 means 1000, GetRecords'
// maximum. The records' maps are shared: do not modify them.
func (s *Server) ReadStream(table, after string, limit int) ([]StreamRecord, error) {
	if limit <= 0 {
		limit = 1000
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.streams[table]
	if st == nil {
		return nil, fmt.Errorf("dynamo: table %s has no stream", table)
	}
	st.trim(s.now())
	i := 0
	if after != "" {
		i = sort.Search(len(st.records), func(i int) bool { return SeqLess(after, st.records[i].SequenceNumber) })
	}
	end := min(i+limit, len(st.records))
	return append([]StreamRecord(nil), st.records[i:end]...), nil
}

// StreamChanged returns a channel closed at the next append to table's
// stream (call it again after it fires).
func (s *Server) StreamChanged(table string) <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changedChan(table)
}

func (s *Server) changedChan(table string) chan struct{} {
	ch := s.changed[table]
	if ch == nil {
		ch = make(chan struct{})
		s.changed[table] = ch
	}
	return ch
}

func (st *stream) trim(now time.Time) {
	cut := now.Add(-StreamRetention)
	i := 0
	for i < len(st.records) && st.records[i].ApproximateCreationDateTime.Before(cut) {
		i++
	}
	if i > 0 {
		st.records = append([]StreamRecord(nil), st.records[i:]...)
	}
}

// record appends one stream record per change to the tables that have a
// stream. Called with writeMu held, after the changes are applied.
func (s *Server) record(changes []change, identity *StreamIdentity) {
	if len(changes) == 0 {
		return
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	touched := map[string]bool{}
	for _, ch := range changes {
		st := s.streams[ch.table]
		if st == nil {
			continue
		}
		st.last++
		rec := StreamRecord{
			EventID:                     newEventID(),
			SequenceNumber:              formatSeq(st.last),
			ApproximateCreationDateTime: now,
			StreamViewType:              st.viewType,
			UserIdentity:                identity,
		}
		img := ch.new
		switch {
		case ch.old == nil:
			rec.EventName = "INSERT"
		case ch.new == nil:
			rec.EventName, img = "REMOVE", ch.old
		default:
			rec.EventName = "MODIFY"
		}
		names, _ := s.keys[ch.table]
		rec.Keys = keyOf(names, img)
		if st.viewType == "NEW_IMAGE" || st.viewType == "NEW_AND_OLD_IMAGES" {
			rec.NewImage = ch.new
		}
		if st.viewType == "OLD_IMAGE" || st.viewType == "NEW_AND_OLD_IMAGES" {
			rec.OldImage = ch.old
		}
		rec.SizeBytes = itemSize(rec.Keys) + itemSize(rec.NewImage) + itemSize(rec.OldImage)
		st.trim(now)
		st.records = append(st.records, rec)
		touched[ch.table] = true
	}
	for t := range touched {
		if ch := s.changed[t]; ch != nil {
			close(ch)
			delete(s.changed, t)
		}
	}
}

func newEventID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// itemSize follows DynamoDB's item size rules (attribute names plus values).
func itemSize(it item) int64 {
	var n int64
	for k, raw := range it {
		var v jsonAttrValue
		_ = json.Unmarshal(raw, &v)
		n += int64(len(k)) + attrSize(v)
	}
	return n
}

func attrSize(v jsonAttrValue) int64 {
	switch {
	case v.S != nil:
		return int64(len(*v.S))
	case v.N != nil:
		return numberSize(*v.N)
	case v.B != nil:
		return int64(len(*v.B))
	case v.SS != nil:
		var n int64
		for _, s := range v.SS {
			n += int64(len(s))
		}
		return n
	case v.NS != nil:
		var n int64
		for _, s := range v.NS {
			n += numberSize(s)
		}
		return n
	case v.BS != nil:
		var n int64
		for _, b := range v.BS {
			n += int64(len(b))
		}
		return n
	case v.M != nil:
		n := int64(3)
		for k, e := range *v.M {
			n += 1 + int64(len(k)) + attrSize(e)
		}
		return n
	case v.L != nil:
		n := int64(3)
		for _, e := range *v.L {
			n += 1 + attrSize(e)
		}
		return n
	}
	return 1 // NULL, BOOL
}

func numberSize(n string) int64 {
	digits := 0
	for _, r := range strings.TrimLeft(strings.TrimLeft(n, "+-"), "0.") {
		if r == 'e' || r == 'E' {
			break
		}
		if r >= '0' && r <= '9' {
			digits++
		}
	}
	return int64((digits+1)/2 + 1)
}

// streamState is a stream as saved in the snapshot.
type streamState struct {
	ViewType string         `json:"view_type"`
	Label    string         `json:"label"`
	Last     string         `json:"last_sequence_number"`
	Records  []StreamRecord `json:"records"`
}

func (s *Server) saveStreams() map[string]streamState {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]streamState{}
	now := s.now()
	for name, st := range s.streams {
		st.trim(now)
		out[name] = streamState{ViewType: st.viewType, Label: st.label, Last: formatSeq(st.last),
			Records: append([]StreamRecord{}, st.records...)}
	}
	return out
}

// loadStreams puts saved streams back on tables whose stream has the same
// view type (a stream of another type is a new stream, as in DynamoDB).
func (s *Server) loadStreams(saved map[string]streamState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for name, ss := range saved {
		st := s.streams[name]
		if st == nil || st.viewType != ss.ViewType {
			continue
		}
		last, err := strconv.ParseUint(strings.TrimLeft(ss.Last, "0"), 10, 64)
		if err != nil && strings.TrimLeft(ss.Last, "0") != "" {
			continue
		}
		st.label = ss.Label
		st.last = max(st.last, last)
		st.records = append([]StreamRecord(nil), ss.Records...)
		st.trim(s.now())
		if len(st.records) > 0 {
			if ch := s.changed[name]; ch != nil {
				close(ch)
				delete(s.changed, name)
			}
		}
	}
}
