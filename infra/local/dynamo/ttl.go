package dynamo

import (
	"encoding/json"
	"net/http"
	"sort"
	"strconv"
	"time"
)

// TTL: a table's TTL attribute (UpdateTimeToLive) holds an expiry time in
// epoch seconds (a Number). As DynamoDB does, the server deletes items whose
// expiry time is in the past — but not more than five years in the past, which
// DynamoDB ignores — in the background; the deletions appear in the table's
// stream with the DynamoDB service as user identity.

// ExpiryInterval is how often the server looks for expired items.
const ExpiryInterval = 5 * time.Second

const ttlScanPage = 500

func (s *Server) expireLoop(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(ExpiryInterval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			// An error (a table deleted meanwhile) is retried at the next tick.
			_, _ = s.ExpireNow(s.now())
		}
	}
}

// ExpireNow deletes the items whose TTL attribute is before now and returns
// how many it deleted.
func (s *Server) ExpireNow(now time.Time) (int, error) {
	s.mu.Lock()
	ttl := make(map[string]string, len(s.ttl))
	for t, a := range s.ttl {
		ttl[t] = a
	}
	s.mu.Unlock()
	tables := make([]string, 0, len(ttl))
	for t := range ttl {
		tables = append(tables, t)
	}
	sort.Strings(tables)
	deleted := 0
	for _, table := range tables {
		attr := ttl[table]
		// Find candidates while others may read, then delete under the write
		// lock the items that are still expired.
		s.writeMu.RLock()
		keys, err := s.expiredKeys(table, attr, now)
		s.writeMu.RUnlock()
		if err != nil {
			return deleted, err
		}
		if len(keys) == 0 {
			continue
		}
		s.writeMu.Lock()
		var changes []change
		for _, key := range keys {
			old, gerr := s.getItem(table, key)
			if gerr != nil {
				err = gerr
				break
			}
			if old != nil && expired(old[attr], now) {
				changes = append(changes, change{table: table, key: key, old: old})
			}
		}
		if err == nil {
			if aerr := s.apply(changes, ttlIdentity); aerr != nil {
				err = aerr
			} else {
				deleted += len(changes)
			}
		}
		s.writeMu.Unlock()
		if err != nil {
			return deleted, err
		}
	}
	return deleted, nil
}

func (s *Server) expiredKeys(table, attr string, now time.Time) ([]item, error) {
	names, ok := s.keyNames(table)
	if !ok {
		return nil, nil
	}
	var keys []item
	var start item
	for {
		req := map[string]any{"TableName": table, "Limit": ttlScanPage}
		if start != nil {
			req["ExclusiveStartKey"] = start
		}
		status, body := internalCall(s.next, "Scan", req)
		if status != http.StatusOK {
			return nil, &apiErr{status, body}
		}
		var page struct {
			Items            []item
			LastEvaluatedKey item
		}
		if err := json.Unmarshal(body, &page); err != nil {
			return nil, err
		}
		for _, it := range page.Items {
			if expired(it[attr], now) {
				keys = append(keys, keyOf(names, it))
			}
		}
		if len(page.LastEvaluatedKey) == 0 {
			return keys, nil
		}
		start = page.LastEvaluatedKey
	}
}

// expired reports whether a TTL attribute value is a Number of epoch seconds
// before now and not more than five years before it.
func expired(raw json.RawMessage, now time.Time) bool {
	if raw == nil {
		return false
	}
	var v jsonAttrValue
	if json.Unmarshal(raw, &v) != nil || v.N == nil {
		return false
	}
	at, err := strconv.ParseFloat(*v.N, 64)
	if err != nil {
		return false
	}
	return at < float64(now.UnixNano())/1e9 && at >= float64(now.AddDate(-5, 0, 0).Unix())
}
