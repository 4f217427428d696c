package transition

import "testing"

func TestTable(t *testing.T) {
	tb := Table[string]{"b": {"a"}, "c": {"a", "b"}}
	if !tb.Allows("a", "c") || !tb.Allows("b", "c") || tb.Allows("c", "b") || tb.Allows("a", "a") || tb.Allows("x", "y") {
		t.Fatal("Allows disagrees with the table")
	}
	from := tb.From("c")
	from[0] = "changed"
	if tb.From("c")[0] != "a" || tb.From("zz") != nil {
		t.Fatal("From must return a copy, nil for unknown targets")
	}
}
