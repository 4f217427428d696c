package dynamo

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// minidyn v0.8.2 gets UpdateItem wrong in two ways that matter to us: REMOVE of
// a top-level attribute is ignored (nested paths, a.b and l[0], are removed),
// and an update that gives an item a GSI key it did not have overwrites another
// item's index entry. So the middleware runs UpdateItem on a shadow copy of the
// table that has no indexes (minidyn evaluates conditions and SET/ADD/DELETE
// and nested REMOVE correctly there), removes the top-level REMOVE attributes
// itself, and writes the result to the real table with DeleteItem + PutItem,
// which keep the indexes right (write.go). Writes are serialised and reads wait
// for them (writeMu), so nobody sees the item missing between the delete and
// the put.

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

func forward(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// removedAttributes returns the top-level attribute names in the REMOVE
// clause; nested paths (a.b, l[0]) are left to minidyn, which removes them.
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
			continue
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
