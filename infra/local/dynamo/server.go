// Package dynamo runs the local stack's embedded DynamoDB: the
// github.com/truora/minidyn server behind an HTTP middleware that counts
// requests per operation, does every item write itself (conditions and
// update expressions evaluated by minidyn on an index-free shadow table,
// transactions all-or-nothing, see write.go), and adds what minidyn v0.8.2
// lacks: ListTables, TableStatus in table descriptions, TTL settings and TTL
// expiry, and DynamoDB Streams (stream.go). Tables are created through the
// real aws-sdk-go-v2 DynamoDB client.
package dynamo

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/truora/minidyn/server"
)

// Server is an embedded DynamoDB endpoint listening on a TCP address.
type Server struct {
	ln   net.Listener
	srv  *http.Server
	url  string
	done chan error

	next            http.Handler // minidyn
	now             func() time.Time
	region, account string
	stopExpiry      chan struct{}
	expiryDone      chan struct{}

	writeMu sync.RWMutex // item writes exclusive, reads shared (write.go)
	// under writeMu:
	tokens map[string]tokenUse // TransactWriteItems ClientRequestToken → first use

	mu          sync.Mutex
	requests    map[string]int64
	calls       map[Call]int64                   // who accessed what (callers.go)
	tables      map[string]bool                  // tables known to exist (minidyn has no ListTables)
	keys        map[string][]string              // table → key attribute names (hash, range)
	projections map[string]map[string]projection // table → index → what it holds (projection.go)
	ttl         map[string]string                // table → TTL attribute name
	streams     map[string]*stream               // table → its stream, if enabled
	changed     map[string]chan struct{}         // table → closed at the next stream append
}

// Option configures a Server.
type Option func(*Server)

// WithClock sets the clock used for stream record times, the stream
// retention and the background TTL expiry (default time.Now).
func WithClock(now func() time.Time) Option { return func(s *Server) { s.now = now } }

// WithAccount sets the region and account in stream ARNs (default: the
// region of Client and account 000000000000).
func WithAccount(region, account string) Option {
	return func(s *Server) { s.region, s.account = region, account }
}

// Start listens on addr (e.g. "127.0.0.1:0" or "127.0.0.1:8000") and serves
// the DynamoDB JSON API until Close. Expired items are deleted every
// ExpiryInterval.
func Start(addr string, opts ...Option) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("dynamo: listen %s: %w", addr, err)
	}
	s := &Server{
		ln:          ln,
		url:         "http://" + ln.Addr().String(),
		done:        make(chan error, 1),
		next:        server.NewServer(),
		now:         time.Now,
		region:      defaultRegion(),
		account:     "000000000000",
		stopExpiry:  make(chan struct{}),
		expiryDone:  make(chan struct{}),
		tokens:      map[string]tokenUse{},
		requests:    map[string]int64{},
		calls:       map[Call]int64{},
		projections: map[string]map[string]projection{},
		tables:      map[string]bool{},
		keys:        map[string][]string{},
		ttl:         map[string]string{},
		streams:     map[string]*stream{},
		changed:     map[string]chan struct{}{},
	}
	for _, o := range opts {
		o(s)
	}
	s.srv = &http.Server{Handler: s.middleware(s.next), ReadHeaderTimeout: 10 * time.Second}
	go func() { s.done <- s.srv.Serve(ln) }()
	go s.expireLoop(s.stopExpiry, s.expiryDone)
	return s, nil
}

// URL is the endpoint base URL, e.g. http://127.0.0.1:38123 (use it as
// AWS_ENDPOINT_URL_DYNAMODB).
func (s *Server) URL() string { return s.url }

// Close stops the server (contents are lost unless Snapshot was called).
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	close(s.stopExpiry)
	<-s.expiryDone
	err := s.srv.Shutdown(ctx)
	if serr := <-s.done; serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}

// Requests returns a copy of the per-operation request counts (keyed by the
// operation in X-Amz-Target, e.g. "PutItem").
func (s *Server) Requests() map[string]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int64, len(s.requests))
	for k, v := range s.requests {
		out[k] = v
	}
	return out
}

// ResetRequests zeroes the request counts.
func (s *Server) ResetRequests() {
	s.mu.Lock()
	s.requests = map[string]int64{}
	s.calls = map[Call]int64{}
	s.mu.Unlock()
}

// TTLAttribute returns the TTL attribute configured for a table ("" if none).
func (s *Server) TTLAttribute(table string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ttl[table]
}

func (s *Server) keyNames(table string) ([]string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.keys[table]
	return k, ok
}
