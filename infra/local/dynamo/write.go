package dynamo

import (
	"bytes"
	"encoding/json"
	"math/big"
	"net/http"
	"reflect"
	"sort"
	"strings"
)

// Every item write (PutItem, DeleteItem, UpdateItem, BatchWriteItem,
// TransactWriteItems, TTL expiry) is done by the middleware in two phases,
// under the exclusive write lock:
//
//  1. evaluate: read the current item from the real table, decide whether the
//     condition holds and compute the new item. Conditions and update
//     expressions are evaluated by minidyn on the index-free shadow table
//     (see update.go), which the middleware loads with the current item first.
//  2. apply: replace each changed item on the real table with DeleteItem +
//     PutItem (which keep minidyn's indexes right), undoing everything if any
//     write is refused, then append one stream record per changed item.
//
// Nothing reaches the real table before every condition of a request holds,
// which makes transactions all-or-nothing; internal calls go to minidyn
// directly and never produce stream records.

type item = map[string]json.RawMessage

// apiErr is an error answer for the client.
type apiErr struct {
	status int
	body   []byte
}

func (e *apiErr) Error() string { return string(e.body) }

func newAPIErr(typ, msg string) *apiErr {
	b, _ := json.Marshal(map[string]string{"__type": "com.amazonaws.dynamodb.v20120810#" + typ, "message": msg})
	return &apiErr{status: http.StatusBadRequest, body: b}
}

func (e *apiErr) write(w http.ResponseWriter) { forward(w, e.status, e.body) }

// errorType is the error code of a DynamoDB error body ("" if none).
func errorType(body []byte) string {
	var doc struct {
		Type string `json:"__type"`
	}
	_ = json.Unmarshal(body, &doc)
	if i := strings.LastIndexByte(doc.Type, '#'); i >= 0 {
		return doc.Type[i+1:]
	}
	return doc.Type
}

const conditionFailedMessage = "The conditional request failed"

// action is one item write of a request.
type action struct {
	kind   string // Put | Delete | Update | ConditionCheck
	table  string
	key    item
	body   map[string]json.RawMessage // the operation's parameters as sent
	allOld bool                       // ReturnValuesOnConditionCheckFailure = ALL_OLD
}

// change is the outcome of evaluating an action: the item before and after
// (nil = absent).
type change struct {
	table    string
	key      item
	old, new item
}

func rawString(raw json.RawMessage) string {
	var s string
	_ = json.Unmarshal(raw, &s)
	return s
}

// parseAction reads the parameters of a Put, Delete, Update or
// ConditionCheck (as in PutItem, DeleteItem, UpdateItem or a transaction).
func (s *Server) parseAction(kind string, body map[string]json.RawMessage) (*action, *apiErr) {
	a := &action{kind: kind, table: rawString(body["TableName"]), body: body,
		allOld: rawString(body["ReturnValuesOnConditionCheckFailure"]) == "ALL_OLD"}
	for _, legacy := range []string{"Expected", "AttributeUpdates", "ConditionalOperator"} {
		if _, ok := body[legacy]; ok {
			// minidyn ignores them: refuse rather than drop a condition.
			return nil, newAPIErr("ValidationException", "local DynamoDB: the legacy parameter "+legacy+
				" is not supported; use ConditionExpression / UpdateExpression")
		}
	}
	if a.table == "" || isShadow(a.table) {
		return nil, newAPIErr("ValidationException", "TableName must be a valid table name")
	}
	names, ok := s.keyNames(a.table)
	if !ok {
		return nil, newAPIErr("ResourceNotFoundException", "Requested resource not found")
	}
	src := body["Key"]
	if kind == "Put" {
		src = body["Item"]
	}
	var it item
	if err := json.Unmarshal(src, &it); err != nil || it == nil {
		return nil, newAPIErr("ValidationException", "One or more parameter values were invalid: missing "+map[bool]string{true: "Item", false: "Key"}[kind == "Put"])
	}
	if kind == "Put" {
		a.key = keyOf(names, it)
		if len(a.key) != len(names) {
			return nil, newAPIErr("ValidationException", "One or more parameter values were invalid: Missing the key "+missingKey(names, it)+" in the item")
		}
	} else {
		a.key = it
		if len(it) != len(names) || len(keyOf(names, it)) != len(names) {
			return nil, newAPIErr("ValidationException", "The provided key element does not match the schema")
		}
	}
	if kind == "ConditionCheck" && rawString(body["ConditionExpression"]) == "" {
		return nil, newAPIErr("ValidationException", "ConditionCheck requires a ConditionExpression")
	}
	return a, nil
}

func keyOf(names []string, it item) item {
	k := make(item, len(names))
	for _, n := range names {
		if v, ok := it[n]; ok {
			k[n] = v
		}
	}
	return k
}

func missingKey(names []string, it item) string {
	for _, n := range names {
		if _, ok := it[n]; !ok {
			return n
		}
	}
	return ""
}

// keyID identifies an item of a table (for duplicate checks).
func keyID(table string, key item) string {
	names := make([]string, 0, len(key))
	for n := range key {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString(table)
	for _, n := range names {
		b.WriteByte('|')
		b.WriteString(n)
		b.WriteByte('=')
		c, _ := json.Marshal(canonValue(key[n]))
		b.Write(c)
	}
	return b.String()
}

// getItem reads an item of the real table (nil if absent).
func (s *Server) getItem(table string, key item) (item, *apiErr) {
	status, body := internalCall(s.next, "GetItem", map[string]any{"TableName": table, "Key": key, "ConsistentRead": true})
	if status != http.StatusOK {
		return nil, &apiErr{status, body}
	}
	var got struct{ Item item }
	_ = json.Unmarshal(body, &got)
	if len(got.Item) == 0 {
		return nil, nil
	}
	return got.Item, nil
}

// evaluate decides an action against the current item. failed reports a
// condition that does not hold (ch.old is then the item it was checked on).
func (s *Server) evaluate(a *action) (ch change, failed bool, err *apiErr) {
	old, err := s.getItem(a.table, a.key)
	if err != nil {
		return ch, false, err
	}
	ch = change{table: a.table, key: a.key, old: old}
	conditional := rawString(a.body["ConditionExpression"]) != ""
	switch a.kind {
	case "Put":
		_ = json.Unmarshal(a.body["Item"], &ch.new)
		if conditional {
			_, failed, err = s.onShadow(a, old, "PutItem", pick(a.body, "Item", "ConditionExpression", "ExpressionAttributeNames", "ExpressionAttributeValues"))
		}
	case "Delete":
		if conditional {
			_, failed, err = s.onShadow(a, old, "DeleteItem", pick(a.body, "Key", "ConditionExpression", "ExpressionAttributeNames", "ExpressionAttributeValues"))
		}
	case "ConditionCheck":
		// A conditional delete on the shadow evaluates the condition alone.
		ch.new = old
		_, failed, err = s.onShadow(a, old, "DeleteItem", pick(a.body, "Key", "ConditionExpression", "ExpressionAttributeNames", "ExpressionAttributeValues"))
	case "Update":
		var names map[string]string
		_ = json.Unmarshal(a.body["ExpressionAttributeNames"], &names)
		removed, rerr := removedAttributes(rawString(a.body["UpdateExpression"]), names)
		if rerr != nil {
			return ch, false, newAPIErr("ValidationException", rerr.Error())
		}
		req := pick(a.body, "Key", "UpdateExpression", "ConditionExpression", "ExpressionAttributeNames", "ExpressionAttributeValues")
		req["ReturnValues"], _ = json.Marshal("ALL_NEW")
		var out []byte
		out, failed, err = s.onShadow(a, old, "UpdateItem", req)
		if err == nil && !failed {
			var upd struct{ Attributes item }
			_ = json.Unmarshal(out, &upd)
			ch.new = upd.Attributes
			for _, name := range removed {
				delete(ch.new, name)
			}
		}
	default:
		return ch, false, newAPIErr("ValidationException", "unknown write action "+a.kind)
	}
	return ch, failed, err
}

func pick(body map[string]json.RawMessage, keys ...string) map[string]json.RawMessage {
	out := map[string]json.RawMessage{}
	for _, k := range keys {
		if v, ok := body[k]; ok {
			out[k] = v
		}
	}
	return out
}

// onShadow loads old into the shadow table, runs op there and empties the
// shadow again. failed reports ConditionalCheckFailedException.
func (s *Server) onShadow(a *action, old item, op string, req map[string]json.RawMessage) ([]byte, bool, *apiErr) {
	shadow := shadowPrefix + a.table
	var status int
	var body []byte
	if old != nil {
		status, body = internalCall(s.next, "PutItem", map[string]any{"TableName": shadow, "Item": old})
	} else {
		status, body = internalCall(s.next, "DeleteItem", map[string]any{"TableName": shadow, "Key": a.key})
	}
	if status != http.StatusOK {
		return nil, false, &apiErr{status, bytes.ReplaceAll(body, []byte(shadow), []byte(a.table))}
	}
	req["TableName"], _ = json.Marshal(shadow)
	status, body = internalCall(s.next, op, req)
	internalCall(s.next, "DeleteItem", map[string]any{"TableName": shadow, "Key": a.key})
	if status == http.StatusOK {
		return body, false, nil
	}
	if errorType(body) == "ConditionalCheckFailedException" {
		return nil, true, nil
	}
	return nil, false, &apiErr{status, bytes.ReplaceAll(body, []byte(shadow), []byte(a.table))}
}

// conditionFailed is ConditionalCheckFailedException as DynamoDB sends it,
// with the item when the caller asked for ALL_OLD and it exists.
func conditionFailed(a *action, old item) *apiErr {
	doc := map[string]any{"__type": "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException", "message": conditionFailedMessage}
	if a.allOld && old != nil {
		doc["Item"] = old
	}
	b, _ := json.Marshal(doc)
	return &apiErr{status: http.StatusBadRequest, body: b}
}

// apply writes the changes to the real tables, all or none, and appends
// their stream records (identity marks TTL deletions).
func (s *Server) apply(changes []change, identity *StreamIdentity) *apiErr {
	var applied []change
	for _, ch := range changes {
		if itemsEqual(ch.old, ch.new) {
			continue
		}
		if err := s.replace(ch.table, ch.key, ch.old, ch.new); err != nil {
			for i := len(applied) - 1; i >= 0; i-- {
				c := applied[i]
				_ = s.replace(c.table, c.key, c.new, c.old)
			}
			return err
		}
		applied = append(applied, ch)
	}
	s.record(applied, identity)
	return nil
}

// replace turns item from into item to on the real table; if the table
// refuses to, the item is left as it was.
func (s *Server) replace(table string, key, from, to item) *apiErr {
	if from != nil {
		if status, body := internalCall(s.next, "DeleteItem", map[string]any{"TableName": table, "Key": key}); status != http.StatusOK {
			return &apiErr{status, body}
		}
	}
	if to == nil {
		return nil
	}
	if status, body := internalCall(s.next, "PutItem", map[string]any{"TableName": table, "Item": to}); status != http.StatusOK {
		// The real table rejected the item (e.g. an index key of the wrong
		// type), possibly after storing part of it: put back what was there.
		internalCall(s.next, "DeleteItem", map[string]any{"TableName": table, "Key": key})
		if from != nil {
			internalCall(s.next, "PutItem", map[string]any{"TableName": table, "Item": from})
		}
		return &apiErr{status, body}
	}
	return nil
}

// singleWrite answers PutItem, DeleteItem and UpdateItem.
func (s *Server) singleWrite(w http.ResponseWriter, op string, raw []byte) {
	var body map[string]json.RawMessage
	if err := json.Unmarshal(raw, &body); err != nil {
		writeErr(w, "SerializationException", "invalid "+op+" request")
		return
	}
	kind := strings.TrimSuffix(op, "Item")
	a, err := s.parseAction(kind, body)
	if err != nil {
		err.write(w)
		return
	}
	ch, failed, err := s.evaluate(a)
	if err != nil {
		err.write(w)
		return
	}
	if failed {
		conditionFailed(a, ch.old).write(w)
		return
	}
	if err := s.apply([]change{ch}, nil); err != nil {
		err.write(w)
		return
	}
	// UPDATED_* are answered with the whole item (ALL_*).
	out := map[string]any{}
	switch strings.ToUpper(rawString(body["ReturnValues"])) {
	case "ALL_NEW", "UPDATED_NEW":
		if ch.new != nil {
			out["Attributes"] = ch.new
		}
	case "ALL_OLD", "UPDATED_OLD":
		if ch.old != nil {
			out["Attributes"] = ch.old
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// itemsEqual compares two items as DynamoDB values (numbers by value, sets
// in any order).
func itemsEqual(a, b item) bool {
	if (a == nil) != (b == nil) || len(a) != len(b) {
		return false
	}
	for k, va := range a {
		vb, ok := b[k]
		if !ok || !reflect.DeepEqual(canonValue(va), canonValue(vb)) {
			return false
		}
	}
	return true
}

// canonValue is a comparable form of an attribute value in DynamoDB JSON.
func canonValue(raw json.RawMessage) any {
	var v jsonAttrValue
	if json.Unmarshal(raw, &v) != nil {
		return string(raw)
	}
	return canonAttr(v)
}

func canonAttr(v jsonAttrValue) any {
	switch {
	case v.S != nil:
		return map[string]any{"S": *v.S}
	case v.N != nil:
		return map[string]any{"N": canonNumber(*v.N)}
	case v.B != nil:
		return map[string]any{"B": string(*v.B)}
	case v.SS != nil:
		return map[string]any{"SS": sortedCopy(v.SS, func(s string) string { return s })}
	case v.NS != nil:
		return map[string]any{"NS": sortedCopy(v.NS, canonNumber)}
	case v.BS != nil:
		bs := make([]string, len(v.BS))
		for i, b := range v.BS {
			bs[i] = string(b)
		}
		return map[string]any{"BS": sortedCopy(bs, func(s string) string { return s })}
	case v.M != nil:
		m := make(map[string]any, len(*v.M))
		for k, e := range *v.M {
			m[k] = canonAttr(e)
		}
		return map[string]any{"M": m}
	case v.L != nil:
		l := make([]any, len(*v.L))
		for i, e := range *v.L {
			l[i] = canonAttr(e)
		}
		return map[string]any{"L": l}
	case v.NULL != nil:
		return map[string]any{"NULL": *v.NULL}
	case v.BOOL != nil:
		return map[string]any{"BOOL": *v.BOOL}
	}
	return map[string]any{}
}

func canonNumber(n string) string {
	r, ok := new(big.Rat).SetString(strings.TrimSpace(n))
	if !ok {
		return n
	}
	return r.RatString()
}

func sortedCopy(in []string, f func(string) string) []string {
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = f(s)
	}
	sort.Strings(out)
	return out
}
