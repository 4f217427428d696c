package dynamo

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// minidyn v0.8.2 gets UpdateItem wrong in two ways that matter to us: REMOVE
// clauses are ignored, and an update that gives an item a GSI key it did not have
// overwrites another item's index entry. So the middleware runs UpdateItem on a
// shadow copy of the table that has no indexes (minidyn evaluates conditions and
// SET/ADD/DELETE correctly there), removes the REMOVE-clause attributes itself,
// and writes the result to the real table with DeleteItem + PutItem, which keep
// the indexes right. Writes are serialised and reads wait for them (writeMu), so
// nobody sees the item missing between the delete and the put.

const shadowPrefix = "__shadow__"

func isShadow(table string) bool { return strings.HasPrefix(table, shadowPrefix) }

// internalCall runs one operation against minidyn directly.
func internalCall(next http.Handler, op string, body any) (int, []byte) {
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, "/", bytes.NewReader(b))
	req.Header.Set("X-Amz-Target", "DynamoDB_20120810."+op)
	req.Header.Set("Content-Type", "application/x-amz-json-1.0")
	rec := &recorder{header: http.Header{}, status: http.StatusOK}
	next.ServeHTTP(rec, req)
	return rec.status, rec.body.Bytes()
}

// createShadow creates the index-free shadow of a table from its CreateTable request.
func createShadow(next http.Handler, createBody []byte) {
	var in map[string]any
	if json.Unmarshal(createBody, &in) != nil {
		return
	}
	keys := map[string]bool{}
	ks, _ := in["KeySchema"].([]any)
	for _, k := range ks {
		if km, ok := k.(map[string]any); ok {
			name, _ := km["AttributeName"].(string)
			keys[name] = true
		}
	}
	var defs []any
	all, _ := in["AttributeDefinitions"].([]any)
	for _, d := range all {
		if dm, ok := d.(map[string]any); ok {
			if name, _ := dm["AttributeName"].(string); keys[name] {
				defs = append(defs, d)
			}
		}
	}
	name, _ := in["TableName"].(string)
	internalCall(next, "CreateTable", map[string]any{
		"TableName": shadowPrefix + name, "KeySchema": ks, "AttributeDefinitions": defs, "BillingMode": "PAY_PER_REQUEST",
	})
}

type updateInput struct {
	TableName                 string
	Key                       map[string]json.RawMessage
	UpdateExpression          string
	ExpressionAttributeNames  map[string]string
	ExpressionAttributeValues map[string]json.RawMessage `json:",omitempty"`
	ConditionExpression       string                     `json:",omitempty"`
	ReturnValues              string                     `json:",omitempty"`
}

func (s *Server) updateItem(w http.ResponseWriter, r *http.Request, next http.Handler) {
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		writeErr(w, "SerializationException", err.Error())
		return
	}
	var in updateInput
	var generic map[string]json.RawMessage
	if err := json.Unmarshal(raw, &in); err != nil || json.Unmarshal(raw, &generic) != nil {
		writeErr(w, "SerializationException", "invalid UpdateItem request")
		return
	}
	removed, err := removedAttributes(in.UpdateExpression, in.ExpressionAttributeNames)
	if err != nil {
		writeErr(w, "ValidationException", err.Error())
		return
	}
	table, shadow := in.TableName, shadowPrefix+in.TableName
	// 1. the current item
	status, body := internalCall(next, "GetItem", map[string]any{"TableName": table, "Key": in.Key, "ConsistentRead": true})
	if status != http.StatusOK {
		forward(w, status, body)
		return
	}
	var got struct{ Item map[string]json.RawMessage }
	_ = json.Unmarshal(body, &got)
	old := got.Item
	// 2. mirror it into the shadow
	if old != nil {
		status, body = internalCall(next, "PutItem", map[string]any{"TableName": shadow, "Item": old})
	} else {
		status, body = internalCall(next, "DeleteItem", map[string]any{"TableName": shadow, "Key": in.Key})
	}
	if status != http.StatusOK {
		forward(w, status, body)
		return
	}
	// 3. the caller's update (and condition) on the shadow
	generic["TableName"], _ = json.Marshal(shadow)
	generic["ReturnValues"], _ = json.Marshal("ALL_NEW")
	status, body = internalCall(next, "UpdateItem", generic)
	if status != http.StatusOK {
		forward(w, status, bytes.ReplaceAll(body, []byte(shadow), []byte(table)))
		return
	}
	var upd struct{ Attributes map[string]json.RawMessage }
	_ = json.Unmarshal(body, &upd)
	item := upd.Attributes
	for _, name := range removed {
		delete(item, name)
	}
	// 4. replace the item on the real table
	if old != nil {
		if status, body = internalCall(next, "DeleteItem", map[string]any{"TableName": table, "Key": in.Key}); status != http.StatusOK {
			forward(w, status, body)
			return
		}
	}
	if status, body = internalCall(next, "PutItem", map[string]any{"TableName": table, "Item": item}); status != http.StatusOK {
		// The real table rejected the new item (e.g. an index key of the
		// wrong type), possibly after storing part of it: put back what
		// was there, as DynamoDB leaves the item unchanged.
		internalCall(next, "DeleteItem", map[string]any{"TableName": table, "Key": in.Key})
		if old != nil {
			internalCall(next, "PutItem", map[string]any{"TableName": table, "Item": old})
		}
		forward(w, status, body)
		return
	}
	// 5. answer as UpdateItem would (UPDATED_* are answered with ALL_*)
	out := map[string]any{}
	switch strings.ToUpper(in.ReturnValues) {
	case "ALL_NEW", "UPDATED_NEW":
		out["Attributes"] = item
	case "ALL_OLD", "UPDATED_OLD":
		if old != nil {
			out["Attributes"] = old
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func forward(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// removedAttributes returns the top-level attribute names in the REMOVE clause.
func removedAttributes(expr string, names map[string]string) ([]string, error) {
	fields := strings.FieldsFunc(expr, func(r rune) bool { return r == ' ' || r == ',' || r == '\t' || r == '\n' })
	var out []string
	inRemove := false
	for _, f := range fields {
		switch strings.ToUpper(f) {
		case "REMOVE":
			inRemove = true
			continue
		case "SET", "ADD", "DELETE":
			inRemove = false
			continue
		}
		if !inRemove {
			continue
		}
		if strings.ContainsAny(f, ".[") {
			return nil, fmt.Errorf("local DynamoDB: REMOVE of nested path %q is not supported", f)
		}
		if strings.HasPrefix(f, "#") {
			n, ok := names[f]
			if !ok {
				return nil, fmt.Errorf("An expression attribute name used in the document path is not defined; attribute name: %s", f)
			}
			f = n
		}
		out = append(out, f)
	}
	return out, nil
}

// transactWriteItems refuses Update actions: minidyn would apply them with the
// UpdateItem bugs described above (REMOVE ignored, index entries clobbered),
// silently, and the shadow-table fix cannot be made atomic with the rest of
// the transaction. Put, Delete and ConditionCheck go through unchanged.
func transactWriteItems(w http.ResponseWriter, r *http.Request, next http.Handler) {
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		writeErr(w, "SerializationException", err.Error())
		return
	}
	var in struct{ TransactItems []map[string]json.RawMessage }
	if err := json.Unmarshal(raw, &in); err != nil {
		writeErr(w, "SerializationException", "invalid TransactWriteItems request")
		return
	}
	for _, item := range in.TransactItems {
		if _, ok := item["Update"]; ok {
			writeErr(w, "ValidationException", "local DynamoDB: Update in TransactWriteItems is not supported "+
				"(minidyn ignores REMOVE and corrupts indexes there); use UpdateItem, or Put with a condition")
			return
		}
	}
	r.Body = io.NopCloser(bytes.NewReader(raw))
	next.ServeHTTP(w, r)
}
