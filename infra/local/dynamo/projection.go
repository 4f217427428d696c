package dynamo

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
)

// minidyn answers a Query or Scan of a global secondary index with whole
// items, whatever the index projects. DynamoDB returns only the projected
// attributes (the table's and the index's keys, plus NonKeyAttributes for
// INCLUDE), so code that reads an attribute an index does not hold would
// work locally and break in the cloud. The middleware trims index answers to
// the projection.

// projection is what one index holds of an item.
type projection struct {
	all  bool
	keep map[string]bool
}

// indexProjections reads the GSI projections of a CreateTable request.
func indexProjections(body []byte, tableKeys []string) map[string]projection {
	var in struct {
		GlobalSecondaryIndexes []struct {
			IndexName  string
			KeySchema  []struct{ AttributeName string }
			Projection struct {
				ProjectionType   string
				NonKeyAttributes []string
			}
		}
	}
	if json.Unmarshal(body, &in) != nil {
		return nil
	}
	out := map[string]projection{}
	for _, g := range in.GlobalSecondaryIndexes {
		p := projection{all: g.Projection.ProjectionType == "ALL" || g.Projection.ProjectionType == "", keep: map[string]bool{}}
		for _, k := range tableKeys {
			p.keep[k] = true
		}
		for _, k := range g.KeySchema {
			p.keep[k.AttributeName] = true
		}
		if g.Projection.ProjectionType == "INCLUDE" {
			for _, a := range g.Projection.NonKeyAttributes {
				p.keep[a] = true
			}
		}
		out[g.IndexName] = p
	}
	return out
}

// projectedRead runs a Query or Scan and, for an index that does not project
// everything, trims its items to the projection.
func (s *Server) projectedRead(w http.ResponseWriter, r *http.Request, body []byte, next http.Handler) {
	var in struct{ TableName, IndexName string }
	_ = json.Unmarshal(body, &in)
	s.mu.Lock()
	p, ok := s.projections[in.TableName][in.IndexName]
	s.mu.Unlock()
	if in.IndexName == "" || !ok || p.all {
		r.Body = io.NopCloser(bytes.NewReader(body))
		next.ServeHTTP(w, r)
		return
	}
	rec := &recorder{header: http.Header{}, status: http.StatusOK}
	r.Body = io.NopCloser(bytes.NewReader(body))
	next.ServeHTTP(rec, r)
	out := rec.body.Bytes()
	if rec.status == http.StatusOK {
		var doc map[string]json.RawMessage
		var items []map[string]json.RawMessage
		if json.Unmarshal(out, &doc) == nil && json.Unmarshal(doc["Items"], &items) == nil {
			for _, it := range items {
				for k := range it {
					if !p.keep[k] {
						delete(it, k)
					}
				}
			}
			if b, err := json.Marshal(items); err == nil {
				doc["Items"] = b
				if b, err := json.Marshal(doc); err == nil {
					out = b
				}
			}
		}
	}
	for k, v := range rec.header {
		w.Header()[k] = v
	}
	w.Header().Del("Content-Length")
	w.WriteHeader(rec.status)
	_, _ = w.Write(out)
}
