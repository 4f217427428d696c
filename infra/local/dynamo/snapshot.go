package dynamo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
)

const (
	snapshotVersion = 1
	scanPageSize    = 500
)

// snapshotFile holds every table's items in DynamoDB JSON
// ({"S":"..."}, {"N":"..."}, {"M":{...}}, ...) and the tables' stream records.
type snapshotFile struct {
	Version int                                   `json:"version"`
	Tables  map[string][]map[string]jsonAttrValue `json:"tables"`
	Streams map[string]streamState                `json:"streams,omitempty"`
}

// Snapshot writes every table's items and stream records to path as JSON,
// atomically (temp file in the same directory + rename). Items and records
// are read together while writes wait, so the file holds each change's item
// and record or neither.
func (s *Server) Snapshot(ctx context.Context, path string) error {
	snap := snapshotFile{Version: snapshotVersion, Tables: map[string][]map[string]jsonAttrValue{}}
	s.writeMu.Lock()
	s.mu.Lock()
	var names []string
	for n := range s.tables {
		if !isShadow(n) {
			names = append(names, n)
		}
	}
	s.mu.Unlock()
	sort.Strings(names)
	for _, name := range names {
		items, err := s.scanAll(ctx, name)
		if err != nil {
			s.writeMu.Unlock()
			return fmt.Errorf("dynamo: scan %s: %w", name, err)
		}
		snap.Tables[name] = items
	}
	snap.Streams = s.saveStreams()
	s.writeMu.Unlock()
	return writeFileAtomic(path, snap)
}

func (s *Server) scanAll(ctx context.Context, table string) ([]map[string]jsonAttrValue, error) {
	items := []map[string]jsonAttrValue{}
	var start map[string]json.RawMessage
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		req := map[string]any{"TableName": table, "Limit": scanPageSize}
		if start != nil {
			req["ExclusiveStartKey"] = start
		}
		status, body := internalCall(s.next, "Scan", req)
		if status != http.StatusOK {
			return nil, errors.New(string(body))
		}
		var page struct {
			Items            []map[string]jsonAttrValue
			LastEvaluatedKey map[string]json.RawMessage
		}
		if err := json.Unmarshal(body, &page); err != nil {
			return nil, err
		}
		items = append(items, page.Items...)
		if len(page.LastEvaluatedKey) == 0 {
			return items, nil
		}
		start = page.LastEvaluatedKey
	}
}

func writeFileAtomic(path string, v any) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("dynamo: snapshot: %w", err)
	}
	defer os.Remove(tmp.Name())
	enc := json.NewEncoder(tmp)
	if err := enc.Encode(v); err != nil {
		tmp.Close()
		return fmt.Errorf("dynamo: snapshot: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("dynamo: snapshot: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("dynamo: snapshot: %w", err)
	}
	return os.Rename(tmp.Name(), path)
}

// Restore loads a snapshot file: its items (overwriting items with the same
// key, keeping others) and the stream records of tables whose stream has the
// same view type. Loading items appends no stream records: the saved records
// already describe them. The tables must exist (call CreateTables first). A
// missing file is not an error (fresh start).
func (s *Server) Restore(ctx context.Context, path string) error {
	raw, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("dynamo: restore: %w", err)
	}
	var snap snapshotFile
	if err := json.Unmarshal(raw, &snap); err != nil {
		return fmt.Errorf("dynamo: restore %s: %w", path, err)
	}
	if snap.Version != snapshotVersion {
		return fmt.Errorf("dynamo: restore %s: version %d, want %d", path, snap.Version, snapshotVersion)
	}
	names := make([]string, 0, len(snap.Tables))
	for n := range snap.Tables {
		names = append(names, n)
	}
	sort.Strings(names)
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	for _, name := range names {
		keys, ok := s.keyNames(name)
		if !ok {
			return fmt.Errorf("dynamo: restore %s: table %s does not exist", path, name)
		}
		for _, it := range snap.Tables[name] {
			if err := ctx.Err(); err != nil {
				return err
			}
			if _, err := fromJSONItem(it); err != nil {
				return fmt.Errorf("dynamo: restore %s: %w", name, err)
			}
			b, _ := json.Marshal(it)
			var full item
			_ = json.Unmarshal(b, &full)
			if len(keyOf(keys, full)) != len(keys) {
				return fmt.Errorf("dynamo: restore %s: item without its key", name)
			}
			old, gerr := s.getItem(name, keyOf(keys, full))
			if gerr != nil {
				return fmt.Errorf("dynamo: restore %s: %w", name, gerr)
			}
			if err := s.replace(name, keyOf(keys, full), old, full); err != nil {
				return fmt.Errorf("dynamo: restore %s: %w", name, err)
			}
		}
	}
	s.loadStreams(snap.Streams)
	return nil
}
