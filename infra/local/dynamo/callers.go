package dynamo

import (
	"encoding/json"
	"net/http"
	"regexp"
	"sort"
	"strings"
)

// Call is one kind of item access a caller made: the IAM action it needs
// (dynamodb:<Action>) on a table or one of its indexes. The local stack gives
// every function its own access key id, so the caller is known: tests hold
// the template's policies to what each function really does.
type Call struct {
	Principal string // the access key id the request was signed with
	Action    string // GetItem, PutItem, Query, BatchGetItem, ConditionCheckItem, …
	Table     string
	Index     string // "" for the table itself
}

var credentialRE = regexp.MustCompile(`Credential=([^/,\s]+)/`)

// principal is the access key id of a SigV4-signed request ("" if unsigned).
func principal(r *http.Request) string {
	if m := credentialRE.FindStringSubmatch(r.Header.Get("Authorization")); m != nil {
		return m[1]
	}
	return ""
}

// retryAttempt reports whether r is an SDK retry of an operation already
// sent (amz-sdk-request: attempt=N, N > 1).
func retryAttempt(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Amz-Sdk-Request"), ";") {
		if n, ok := strings.CutPrefix(strings.TrimSpace(part), "attempt="); ok {
			return n != "1"
		}
	}
	return false
}

// callsOf lists the accesses a request body asks for, as IAM authorises them:
// batch and transaction operations need the action on every table they name
// (transaction items: the item-level action).
func callsOf(who, op string, body []byte) []Call {
	var in struct {
		TableName     string
		IndexName     string
		RequestItems  map[string]json.RawMessage
		TransactItems []map[string]struct{ TableName string }
	}
	if json.Unmarshal(body, &in) != nil {
		return nil
	}
	var out []Call
	switch op {
	case "BatchGetItem", "BatchWriteItem":
		for t := range in.RequestItems {
			out = append(out, Call{Principal: who, Action: op, Table: t})
		}
	case "TransactWriteItems", "TransactGetItems":
		item := map[string]string{"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem", "ConditionCheck": "ConditionCheckItem", "Get": "GetItem"}
		for _, ti := range in.TransactItems {
			for k, v := range ti {
				out = append(out, Call{Principal: who, Action: item[k], Table: v.TableName})
			}
		}
	default:
		if in.TableName != "" {
			out = append(out, Call{Principal: who, Action: op, Table: in.TableName, Index: in.IndexName})
		}
	}
	return out
}

// Calls returns every kind of access made since the server started (or the
// last ResetRequests), with counts, sorted.
func (s *Server) Calls() []CallCount {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]CallCount, 0, len(s.calls))
	for c, n := range s.calls {
		out = append(out, CallCount{Call: c, N: n})
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i].Call, out[j].Call
		if a.Principal != b.Principal {
			return a.Principal < b.Principal
		}
		if a.Table != b.Table {
			return a.Table < b.Table
		}
		if a.Index != b.Index {
			return a.Index < b.Index
		}
		return a.Action < b.Action
	})
	return out
}

// CallCount is a Call and how often it was made.
type CallCount struct {
	Call
	N int64
}
