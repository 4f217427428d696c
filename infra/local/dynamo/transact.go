package dynamo

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"
)

const (
	transactWriteMax = 100
	batchWriteLimit  = 25
	// A ClientRequestToken makes TransactWriteItems idempotent for 10 minutes.
	idempotencyWindow = 10 * time.Minute
)

type tokenUse struct {
	hash [32]byte
	at   time.Time
}

var transactKinds = []string{"Put", "Update", "Delete", "ConditionCheck"}

// transactWriteItems evaluates every action first (conditions and new items,
// see write.go) and writes only if all conditions hold. Called with writeMu
// held exclusively.
func (s *Server) transactWriteItems(w http.ResponseWriter, raw []byte) {
	var in struct {
		TransactItems      []map[string]json.RawMessage
		ClientRequestToken string
	}
	if err := json.Unmarshal(raw, &in); err != nil {
		writeErr(w, "SerializationException", "invalid TransactWriteItems request")
		return
	}
	n := len(in.TransactItems)
	if n == 0 || n > transactWriteMax {
		writeErr(w, "ValidationException", fmt.Sprintf("1 validation error detected: Value at 'transactItems' failed to satisfy constraint: "+
			"Member must have length less than or equal to %d and greater than or equal to 1", transactWriteMax))
		return
	}
	var hash [32]byte
	if in.ClientRequestToken != "" {
		hash = requestHash(raw)
		if done, err := s.seenToken(in.ClientRequestToken, hash); err != nil {
			err.write(w)
			return
		} else if done {
			writeJSON(w, http.StatusOK, map[string]any{})
			return
		}
	}
	actions := make([]*action, n)
	seen := map[string]bool{}
	for i, ti := range in.TransactItems {
		var kind string
		for _, k := range transactKinds {
			if _, ok := ti[k]; ok {
				if kind != "" {
					writeErr(w, "ValidationException", "TransactItems can only contain one of Check, Put, Update or Delete")
					return
				}
				kind = k
			}
		}
		if kind == "" {
			writeErr(w, "ValidationException", "TransactItems can only contain one of Check, Put, Update or Delete")
			return
		}
		var body map[string]json.RawMessage
		if err := json.Unmarshal(ti[kind], &body); err != nil {
			writeErr(w, "SerializationException", "invalid "+kind+" in TransactItems")
			return
		}
		a, err := s.parseAction(kind, body)
		if err != nil {
			err.write(w)
			return
		}
		id := keyID(a.table, a.key)
		if seen[id] {
			writeErr(w, "ValidationException", "Transaction request cannot include multiple operations on one item")
			return
		}
		seen[id] = true
		actions[i] = a
	}
	changes := make([]change, 0, n)
	reasons := make([]map[string]any, n)
	cancelled := false
	for i, a := range actions {
		ch, failed, err := s.evaluate(a)
		if err != nil {
			err.write(w)
			return
		}
		reasons[i] = map[string]any{"Code": "None"}
		if failed {
			cancelled = true
			reasons[i] = map[string]any{"Code": "ConditionalCheckFailed", "Message": conditionFailedMessage}
			if a.allOld && ch.old != nil {
				reasons[i]["Item"] = ch.old
			}
			continue
		}
		changes = append(changes, ch)
	}
	if cancelled {
		codes := make([]string, n)
		for i, r := range reasons {
			codes[i] = r["Code"].(string)
		}
		writeJSON(w, http.StatusBadRequest, map[string]any{
			"__type":              "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
			"Message":             "Transaction cancelled, please refer cancellation reasons for specific reasons [" + strings.Join(codes, ", ") + "]",
			"CancellationReasons": reasons,
		})
		return
	}
	if err := s.apply(changes, nil); err != nil {
		err.write(w)
		return
	}
	if in.ClientRequestToken != "" {
		s.tokens[in.ClientRequestToken] = tokenUse{hash: hash, at: s.now()}
	}
	writeJSON(w, http.StatusOK, map[string]any{})
}

// requestHash identifies a request's parameters apart from its token.
func requestHash(raw []byte) [32]byte {
	var doc map[string]any
	_ = json.Unmarshal(raw, &doc)
	delete(doc, "ClientRequestToken")
	delete(doc, "ReturnConsumedCapacity")
	delete(doc, "ReturnItemCollectionMetrics")
	b, _ := json.Marshal(doc) // map keys are sorted: a canonical form
	return sha256.Sum256(b)
}

// seenToken reports whether a transaction with this token already succeeded
// within the idempotency window (writeMu held).
func (s *Server) seenToken(token string, hash [32]byte) (bool, *apiErr) {
	now := s.now()
	for t, u := range s.tokens {
		if now.Sub(u.at) > idempotencyWindow {
			delete(s.tokens, t)
		}
	}
	u, ok := s.tokens[token]
	if !ok {
		return false, nil
	}
	if u.hash != hash {
		return false, newAPIErr("IdempotentParameterMismatchException",
			"The request uses the same client token as a previous, but non-identical request.")
	}
	return true, nil
}

// batchWriteItem writes every request of the batch (puts and deletes without
// conditions) and leaves nothing unprocessed. A request the table refuses
// undoes the batch, as DynamoDB validates a batch before writing any of it.
func (s *Server) batchWriteItem(w http.ResponseWriter, raw []byte) {
	var in struct {
		RequestItems map[string][]struct {
			PutRequest    *struct{ Item json.RawMessage }
			DeleteRequest *struct{ Key json.RawMessage }
		}
	}
	if err := json.Unmarshal(raw, &in); err != nil {
		writeErr(w, "SerializationException", "invalid BatchWriteItem request")
		return
	}
	tables := make([]string, 0, len(in.RequestItems))
	count := 0
	for t, reqs := range in.RequestItems {
		tables = append(tables, t)
		count += len(reqs)
	}
	sort.Strings(tables)
	if count == 0 {
		writeErr(w, "ValidationException", "1 validation error detected: Value at 'requestItems' failed to satisfy constraint: Member must have length greater than or equal to 1")
		return
	}
	if count > batchWriteLimit {
		writeErr(w, "ValidationException", "Too many items requested for the BatchWriteItem call")
		return
	}
	var changes []change
	seen := map[string]bool{}
	for _, t := range tables {
		tname, _ := json.Marshal(t)
		for _, r := range in.RequestItems[t] {
			var a *action
			var err *apiErr
			switch {
			case r.PutRequest != nil && r.DeleteRequest == nil:
				a, err = s.parseAction("Put", map[string]json.RawMessage{"TableName": tname, "Item": r.PutRequest.Item})
			case r.DeleteRequest != nil && r.PutRequest == nil:
				a, err = s.parseAction("Delete", map[string]json.RawMessage{"TableName": tname, "Key": r.DeleteRequest.Key})
			default:
				err = newAPIErr("ValidationException", "A write request must contain exactly one of PutRequest or DeleteRequest")
			}
			if err != nil {
				err.write(w)
				return
			}
			id := keyID(a.table, a.key)
			if seen[id] {
				writeErr(w, "ValidationException", "Provided list of item keys contains duplicates")
				return
			}
			seen[id] = true
			ch, _, err := s.evaluate(a) // no conditions: never fails a check
			if err != nil {
				err.write(w)
				return
			}
			changes = append(changes, ch)
		}
	}
	if err := s.apply(changes, nil); err != nil {
		err.write(w)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"UnprocessedItems": map[string]any{}})
}
