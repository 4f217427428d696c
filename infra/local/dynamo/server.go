// Package dynamo runs the local stack's embedded DynamoDB: the
// github.com/truora/minidyn server behind a small HTTP middleware that
// counts requests per operation and fills a few gaps of minidyn v0.8.2
// (ListTables, TableStatus in table descriptions, TTL settings). Tables are
// created, dumped and loaded through the real aws-sdk-go-v2 DynamoDB client.
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

	writeMu  sync.RWMutex // item writes exclusive, reads shared (update.go)
	mu       sync.Mutex
	requests map[string]int64
	tables   map[string]bool   // tables known to exist (minidyn has no ListTables)
	ttl      map[string]string // table → TTL attribute name (metadata only)
}

// Start listens on addr (e.g. "127.0.0.1:0" or "127.0.0.1:8000") and serves
// the DynamoDB JSON API until Close.
func Start(addr string) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("dynamo: listen %s: %w", addr, err)
	}
	s := &Server{
		ln:       ln,
		url:      "http://" + ln.Addr().String(),
		done:     make(chan error, 1),
		requests: map[string]int64{},
		tables:   map[string]bool{},
		ttl:      map[string]string{},
	}
	s.srv = &http.Server{Handler: s.middleware(server.NewServer()), ReadHeaderTimeout: 10 * time.Second}
	go func() { s.done <- s.srv.Serve(ln) }()
	return s, nil
}

// URL is the endpoint base URL, e.g. http://127.0.0.1:38123 (use it as
// AWS_ENDPOINT_URL_DYNAMODB).
func (s *Server) URL() string { return s.url }

// Close stops the server (contents are lost unless Snapshot was called).
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
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
	s.mu.Unlock()
}

// TTLAttribute returns the TTL attribute configured for a table ("" if none).
// minidyn does not expire items: readers must ignore expired items.
func (s *Server) TTLAttribute(table string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ttl[table]
}
