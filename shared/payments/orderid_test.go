package payments

import (
	"regexp"
	"strings"
	"testing"
)

// IsOrderID accepts exactly the shape OrderID produces (the rule it replaced).
func TestIsOrderIDMatchesTheShape(t *testing.T) {
	rule := regexp.MustCompile(`^EP[A-Z2-7]{26}$`)
	inputs := []string{"", "EP", OrderID("tok", "key-0000000000000001"), "EP" + strings.Repeat("A", 25), "EP" + strings.Repeat("A", 27),
		"ep" + strings.Repeat("A", 26), "EP" + strings.Repeat("8", 26), "EP" + strings.Repeat("a", 26), "EP" + strings.Repeat("7", 26)}
	alphabet := "EPAZ27018a-"
	for i := 0; i < 2000; i++ {
		b := []byte("EP" + strings.Repeat("A", 26))
		for j := 2; j < len(b); j++ {
			if (i+j)%5 == 0 {
				b[j] = alphabet[(i*7+j)%len(alphabet)]
			}
		}
		inputs = append(inputs, string(b))
	}
	for _, in := range inputs {
		if got, want := IsOrderID(in), rule.MatchString(in); got != want {
			t.Errorf("IsOrderID(%q) = %v, the shape says %v", in, got, want)
		}
	}
	if !IsOrderID(OrderID("tok", "key-0000000000000001")) {
		t.Fatal("an id from OrderID is not an order id")
	}
}
