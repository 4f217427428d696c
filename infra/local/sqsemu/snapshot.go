package sqsemu

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

const snapshotVersion = 1

type snapshotFile struct {
	Version int                   `json:"version"`
	Taken   time.Time             `json:"taken"`
	Queues  map[string][]*message `json:"queues"`
	Fifo    map[string]*fifoState `json:"fifo,omitempty"` // FIFO queues' sequence and deduplication ids
}

// Snapshot writes every queue's messages (including in-flight and delayed
// ones, with receive counts and visibility times) as JSON, and each FIFO
// queue's last sequence number and the deduplication ids still in their
// interval.
func (s *Server) Snapshot(w io.Writer) error {
	s.mu.Lock()
	snap := snapshotFile{Version: snapshotVersion, Taken: s.now(), Queues: map[string][]*message{}, Fifo: map[string]*fifoState{}}
	for name, q := range s.queues {
		msgs := make([]*message, len(q.msgs))
		for i, m := range q.msgs {
			c := *m
			msgs[i] = &c
		}
		snap.Queues[name] = msgs
		if q.fifo != nil {
			q.fifo.prune(s.now())
			f := &fifoState{Seq: q.fifo.Seq, Dedup: make(map[string]dedupEntry, len(q.fifo.Dedup))}
			for k, d := range q.fifo.Dedup {
				f.Dedup[k] = d
			}
			snap.Fifo[name] = f
		}
	}
	s.mu.Unlock()
	enc := json.NewEncoder(w)
	enc.SetIndent("", " ")
	return enc.Encode(snap)
}

// Restore replaces the contents of every queue named in the snapshot (and
// restores FIFO queues' sequence numbers and deduplication ids). Receipt
// handles from before the snapshot are not valid afterwards; in-flight
// messages become visible when their saved visibility time passes. Messages
// of queues that are no longer declared are dropped and reported in the
// returned error after the others were restored.
func (s *Server) Restore(r io.Reader) error {
	var snap snapshotFile
	if err := json.NewDecoder(r).Decode(&snap); err != nil {
		return fmt.Errorf("sqsemu: reading snapshot: %w", err)
	}
	if snap.Version != snapshotVersion {
		return fmt.Errorf("sqsemu: snapshot version %d, want %d", snap.Version, snapshotVersion)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var dropped []string
	for name, msgs := range snap.Queues {
		q, ok := s.queues[name]
		if !ok {
			if len(msgs) > 0 {
				dropped = append(dropped, fmt.Sprintf("%s (%d messages)", name, len(msgs)))
			}
			continue
		}
		q.msgs = q.msgs[:0]
		q.byReceipt = make(map[string]*message)
		for _, m := range msgs {
			if m == nil || m.ID == "" {
				continue
			}
			m.receipt = ""
			q.msgs = append(q.msgs, m)
		}
	}
	for name, f := range snap.Fifo {
		q, ok := s.queues[name]
		if !ok || q.fifo == nil || f == nil {
			continue
		}
		q.fifo.Seq = max(q.fifo.Seq, f.Seq) // sequence numbers never go back
		q.fifo.setDedup(f.Dedup)
	}
	s.broadcastLocked()
	s.rescheduleLocked()
	if len(dropped) > 0 {
		sort.Strings(dropped)
		return fmt.Errorf("sqsemu: snapshot holds undeclared queues, dropped: %s", strings.Join(dropped, ", "))
	}
	return nil
}

// SnapshotFile writes Snapshot to path atomically (temp file + rename).
func (s *Server) SnapshotFile(path string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := s.Snapshot(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// RestoreFile restores from path; a missing file is not an error (fresh start).
func (s *Server) RestoreFile(path string) error {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	return s.Restore(f)
}
