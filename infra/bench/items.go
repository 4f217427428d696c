package main

import (
	"encoding/base64"
	"encoding/json"
	"strings"

	"github.com/estatepay/estatepay/infra/local/dynamo"
	"github.com/estatepay/estatepay/infra/template"
)

// tableInfo is a template table as the stack created it.
type tableInfo struct {
	LogicalID, Name   string
	HashKey, RangeKey string
	GSIs              []template.Index
	Stream            bool
}

func tablesOf(t *template.Template, names map[string]string) []tableInfo {
	var out []tableInfo
	for _, tb := range t.Tables() {
		out = append(out, tableInfo{LogicalID: tb.LogicalID, Name: names[tb.LogicalID], HashKey: tb.HashKey, RangeKey: tb.RangeKey,
			GSIs: tb.GSIs, Stream: tb.StreamViewType != ""})
	}
	return out
}

// OrderWrite is one write of an order (one stream record) and the write
// request units DynamoDB on-demand bills for it: the table item (the larger
// of the old and new item, per started KB) plus every global secondary
// index entry it puts, deletes or rewrites.
type OrderWrite struct {
	Event    string       `json:"event"`  // INSERT | MODIFY | REMOVE
	Status   string       `json:"status"` // the order's status after the write
	OldBytes int          `json:"old_item_bytes"`
	NewBytes int          `json:"new_item_bytes"`
	TableWRU int          `json:"table_wru"`
	Indexes  []IndexWrite `json:"index_writes"`
	WRU      int          `json:"wru"` // table + indexes
}

// IndexWrite is one GSI entry write caused by a table write.
type IndexWrite struct {
	Index string `json:"index"`
	Op    string `json:"op"` // put | delete | update
	Bytes int    `json:"entry_bytes"`
	WRU   int    `json:"wru"`
}

// gsiEntryOverhead is what DynamoDB adds to every index entry's size.
const gsiEntryOverhead = 100

func wru(bytes int) int { return max(1, (bytes+1023)/1024) }

// writeCost prices one stream record of the table.
func (t tableInfo) writeCost(rec dynamo.StreamRecord) OrderWrite {
	w := OrderWrite{Event: rec.EventName, Status: keyString(rec.NewImage["status"]),
		OldBytes: itemSize(rec.OldImage), NewBytes: itemSize(rec.NewImage)}
	w.TableWRU = wru(max(w.OldBytes, w.NewBytes))
	w.WRU = w.TableWRU
	for _, ix := range t.GSIs {
		oldIn, newIn := t.inIndex(ix, rec.OldImage), t.inIndex(ix, rec.NewImage)
		put := func(op string, img map[string]json.RawMessage) {
			n := t.entrySize(ix, img)
			iw := IndexWrite{Index: ix.Name, Op: op, Bytes: n, WRU: wru(n)}
			w.Indexes = append(w.Indexes, iw)
			w.WRU += iw.WRU
		}
		switch {
		case !oldIn && newIn:
			put("put", rec.NewImage)
		case oldIn && !newIn:
			put("delete", rec.OldImage)
		case oldIn && newIn && !sameKeys(ix, rec.OldImage, rec.NewImage):
			put("delete", rec.OldImage)
			put("put", rec.NewImage)
		case oldIn && newIn && t.entryChanged(ix, rec.OldImage, rec.NewImage):
			put("update", rec.NewImage)
		}
	}
	return w
}

func (t tableInfo) inIndex(ix template.Index, img map[string]json.RawMessage) bool {
	if img == nil || img[ix.HashKey] == nil {
		return false
	}
	return ix.RangeKey == "" || img[ix.RangeKey] != nil
}

func sameKeys(ix template.Index, a, b map[string]json.RawMessage) bool {
	return string(a[ix.HashKey]) == string(b[ix.HashKey]) && string(a[ix.RangeKey]) == string(b[ix.RangeKey])
}

// projected lists the attributes an index entry holds.
func (t tableInfo) projected(ix template.Index, img map[string]json.RawMessage) map[string]json.RawMessage {
	out := map[string]json.RawMessage{}
	keep := func(k string) {
		if v, ok := img[k]; ok && k != "" {
			out[k] = v
		}
	}
	switch ix.ProjectionType {
	case "ALL":
		return img
	case "INCLUDE":
		for _, k := range ix.NonKeyAttributes {
			keep(k)
		}
	}
	for _, k := range []string{t.HashKey, t.RangeKey, ix.HashKey, ix.RangeKey} {
		keep(k)
	}
	return out
}

func (t tableInfo) entrySize(ix template.Index, img map[string]json.RawMessage) int {
	return itemSize(t.projected(ix, img)) + gsiEntryOverhead
}

func (t tableInfo) entryChanged(ix template.Index, a, b map[string]json.RawMessage) bool {
	pa, pb := t.projected(ix, a), t.projected(ix, b)
	if len(pa) != len(pb) {
		return true
	}
	for k, v := range pa {
		if string(pb[k]) != string(v) {
			return true
		}
	}
	return false
}

// itemSize is an item's size as DynamoDB counts it: per attribute its name's
// UTF-8 length plus its value's size.
func itemSize(img map[string]json.RawMessage) int {
	n := 0
	for k, v := range img {
		n += len(k) + valueSize(v)
	}
	return n
}

// valueSize is the size of one DynamoDB JSON value: strings and binaries
// their bytes, numbers one byte per two significant digits plus one,
// booleans and nulls one byte, lists and maps 3 bytes plus one per element
// plus the elements (and a map's keys), sets the sum of their elements.
func valueSize(raw json.RawMessage) int {
	var v map[string]json.RawMessage
	if json.Unmarshal(raw, &v) != nil {
		return 0
	}
	for typ, body := range v {
		switch typ {
		case "S":
			var s string
			_ = json.Unmarshal(body, &s)
			return len(s)
		case "N":
			var s string
			_ = json.Unmarshal(body, &s)
			return numberSize(s)
		case "B":
			var s string
			_ = json.Unmarshal(body, &s)
			b, _ := base64.StdEncoding.DecodeString(s)
			return len(b)
		case "BOOL", "NULL":
			return 1
		case "SS", "NS", "BS":
			var ss []string
			_ = json.Unmarshal(body, &ss)
			n := 0
			for _, s := range ss {
				switch typ {
				case "SS":
					n += len(s)
				case "NS":
					n += numberSize(s)
				default:
					b, _ := base64.StdEncoding.DecodeString(s)
					n += len(b)
				}
			}
			return n
		case "L":
			var l []json.RawMessage
			_ = json.Unmarshal(body, &l)
			n := 3
			for _, e := range l {
				n += 1 + valueSize(e)
			}
			return n
		case "M":
			var m map[string]json.RawMessage
			_ = json.Unmarshal(body, &m)
			n := 3
			for k, e := range m {
				n += 1 + len(k) + valueSize(e)
			}
			return n
		}
	}
	return 0
}

func numberSize(s string) int {
	s = strings.TrimLeft(s, "+-")
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		s = s[:i]
	}
	s = strings.Replace(s, ".", "", 1)
	s = strings.Trim(s, "0")
	if s == "" {
		return 1
	}
	return (len(s)+1)/2 + 1
}
