package dynamo

import (
	"bytes"
	"encoding/json"
	"hash/crc32"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
)

// middleware counts requests and answers or patches the operations minidyn
// lacks or describes incompletely.
func (s *Server) middleware(next http.Handler) http.Handler {
	return withCRC32(s.operations(next))
}

// withCRC32 adds the X-Amz-Crc32 header real DynamoDB puts on every response;
// aws-sdk-go-v2 validates the body against it (and warns when it is missing).
func withCRC32(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &recorder{header: http.Header{}, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		for k, v := range rec.header {
			w.Header()[k] = v
		}
		w.Header().Set("X-Amz-Crc32", strconv.FormatUint(uint64(crc32.ChecksumIEEE(rec.body.Bytes())), 10))
		w.Header().Set("Content-Length", strconv.Itoa(rec.body.Len()))
		w.WriteHeader(rec.status)
		_, _ = w.Write(rec.body.Bytes())
	})
}

func (s *Server) operations(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		target := r.Header.Get("X-Amz-Target")
		op := target
		if i := strings.LastIndexByte(target, '.'); i >= 0 {
			op = target[i+1:]
		}
		if op != "" {
			s.mu.Lock()
			s.requests[op]++
			s.mu.Unlock()
		}
		// Read the whole request before taking the lock: a client that stalls
		// mid-body must not hold every other caller up.
		body, err := io.ReadAll(r.Body)
		if err != nil {
			writeErr(w, "SerializationException", err.Error())
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		// A retried attempt of the same operation (the SDK's amz-sdk-request
		// header: attempt=2…) is not another call: the counts are operations,
		// as the functions' own DynamoDBCalls metric counts them.
		if calls := callsOf(principal(r), op, body); len(calls) > 0 && !retryAttempt(r) {
			s.mu.Lock()
			for _, c := range calls {
				s.calls[c]++
			}
			s.mu.Unlock()
		}
		if exclusiveOps[op] {
			s.writeMu.Lock()
			defer s.writeMu.Unlock()
		} else {
			s.writeMu.RLock()
			defer s.writeMu.RUnlock()
		}
		switch op {
		case "PutItem", "DeleteItem", "UpdateItem":
			s.singleWrite(w, op, body)
			return
		case "TransactWriteItems":
			s.transactWriteItems(w, body)
			return
		case "BatchWriteItem":
			s.batchWriteItem(w, body)
			return
		case "ListTables":
			s.listTables(w)
			return
		case "UpdateTimeToLive", "DescribeTimeToLive":
			s.timeToLive(w, r, op)
			return
		case "CreateTable", "DeleteTable", "DescribeTable", "UpdateTable":
			s.tableOp(w, r, op, next)
			return
		case "Query", "Scan":
			s.projectedRead(w, r, body, next)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// exclusiveOps change items or tables; they run one at a time, and reads wait
// for them (write.go).
var exclusiveOps = map[string]bool{
	"PutItem": true, "DeleteItem": true, "UpdateItem": true, "BatchWriteItem": true, "TransactWriteItems": true,
	"CreateTable": true, "DeleteTable": true, "UpdateTable": true, "UpdateTimeToLive": true,
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeErr(w http.ResponseWriter, typ, msg string) {
	writeJSON(w, http.StatusBadRequest, map[string]string{
		"__type": "com.amazonaws.dynamodb.v20120810#" + typ, "message": msg,
	})
}

func (s *Server) listTables(w http.ResponseWriter) {
	s.mu.Lock()
	names := make([]string, 0, len(s.tables))
	for n := range s.tables {
		if !isShadow(n) {
			names = append(names, n)
		}
	}
	s.mu.Unlock()
	sort.Strings(names)
	writeJSON(w, http.StatusOK, map[string][]string{"TableNames": names})
}

func (s *Server) timeToLive(w http.ResponseWriter, r *http.Request, op string) {
	var in struct {
		TableName               string
		TimeToLiveSpecification struct {
			AttributeName string
			Enabled       bool
		}
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		writeErr(w, "SerializationException", err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.tables[in.TableName] {
		writeErr(w, "ResourceNotFoundException", "Requested resource not found: Table: "+in.TableName+" not found")
		return
	}
	if op == "UpdateTimeToLive" {
		spec := in.TimeToLiveSpecification
		if spec.Enabled {
			s.ttl[in.TableName] = spec.AttributeName
		} else {
			delete(s.ttl, in.TableName)
		}
		writeJSON(w, http.StatusOK, map[string]any{"TimeToLiveSpecification": spec})
		return
	}
	desc := map[string]string{"TimeToLiveStatus": "DISABLED"}
	if a := s.ttl[in.TableName]; a != "" {
		desc = map[string]string{"TimeToLiveStatus": "ENABLED", "AttributeName": a}
	}
	writeJSON(w, http.StatusOK, map[string]any{"TimeToLiveDescription": desc})
}

// tableOp forwards a table operation to minidyn, records which tables exist
// and adds TableStatus/IndexStatus ACTIVE to the description (minidyn omits
// them, which would leave SDK waiters spinning).
func (s *Server) tableOp(w http.ResponseWriter, r *http.Request, op string, next http.Handler) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		writeErr(w, "SerializationException", err.Error())
		return
	}
	var in struct {
		TableName string
		KeySchema []struct {
			AttributeName string
			KeyType       string
		}
		StreamSpecification *struct {
			StreamEnabled  bool
			StreamViewType string
		}
	}
	_ = json.Unmarshal(body, &in)
	streamView := ""
	if op == "CreateTable" && in.StreamSpecification != nil && in.StreamSpecification.StreamEnabled {
		streamView = in.StreamSpecification.StreamViewType
		if !streamViewTypes[streamView] {
			writeErr(w, "ValidationException", "StreamSpecification: StreamViewType must be KEYS_ONLY, NEW_IMAGE, OLD_IMAGE or NEW_AND_OLD_IMAGES")
			return
		}
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	rec := &recorder{header: http.Header{}, status: http.StatusOK}
	next.ServeHTTP(rec, r)
	out := rec.body.Bytes()
	if rec.status == http.StatusOK {
		s.mu.Lock()
		switch op {
		case "CreateTable":
			s.tables[in.TableName] = true
			var names []string
			for _, kt := range []string{"HASH", "RANGE"} {
				for _, k := range in.KeySchema {
					if k.KeyType == kt {
						names = append(names, k.AttributeName)
					}
				}
			}
			s.keys[in.TableName] = names
			s.projections[in.TableName] = indexProjections(body, names)
			if streamView != "" {
				s.streams[in.TableName] = newStream(streamView, s.now())
			}
			if !isShadow(in.TableName) {
				createShadow(next, body)
			}
		case "DeleteTable":
			delete(s.tables, in.TableName)
			delete(s.projections, in.TableName)
			delete(s.keys, in.TableName)
			delete(s.ttl, in.TableName)
			delete(s.streams, in.TableName)
		}
		out = s.patchDescription(out, in.TableName)
		s.mu.Unlock()
	}
	for k, v := range rec.header {
		w.Header()[k] = v
	}
	w.Header().Del("Content-Length")
	w.WriteHeader(rec.status)
	_, _ = w.Write(out)
}

// patchDescription sets missing status fields and the stream settings in a
// table description response ({"Table":{...}} or {"TableDescription":{...}}).
// Called with s.mu held.
func (s *Server) patchDescription(raw []byte, table string) []byte {
	var doc map[string]json.RawMessage
	if json.Unmarshal(raw, &doc) != nil {
		return raw
	}
	for _, key := range []string{"Table", "TableDescription"} {
		var desc map[string]any
		if doc[key] == nil || json.Unmarshal(doc[key], &desc) != nil || desc == nil {
			continue
		}
		if st, _ := desc["TableStatus"].(string); st == "" {
			desc["TableStatus"] = "ACTIVE"
		}
		if arn, _ := desc["TableArn"].(string); arn == "" {
			desc["TableArn"] = "arn:aws:dynamodb:" + s.region + ":" + s.account + ":table/" + table
		}
		if st := s.streams[table]; st != nil {
			desc["StreamSpecification"] = map[string]any{"StreamEnabled": true, "StreamViewType": st.viewType}
			desc["LatestStreamArn"] = s.streamArn(table, st)
			desc["LatestStreamLabel"] = st.label
		}
		if gsis, ok := desc["GlobalSecondaryIndexes"].([]any); ok {
			for _, g := range gsis {
				if gm, ok := g.(map[string]any); ok {
					if st, _ := gm["IndexStatus"].(string); st == "" {
						gm["IndexStatus"] = "ACTIVE"
					}
				}
			}
		}
		b, err := json.Marshal(desc)
		if err != nil {
			return raw
		}
		doc[key] = b
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return raw
	}
	return b
}

// recorder buffers a response so it can be patched before it is sent.
type recorder struct {
	header      http.Header
	status      int
	wroteHeader bool
	body        bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(code int) {
	if !r.wroteHeader {
		r.status, r.wroteHeader = code, true
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	r.wroteHeader = true
	return r.body.Write(b)
}
