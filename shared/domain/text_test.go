package domain

import (
	"regexp"
	"strings"
	"testing"
)

// The loops accept exactly what the regexps they replace accepted.
func TestShapeChecksMatchTheirRules(t *testing.T) {
	alphabet := "aZz09_-+.:/ \nAé\x00"
	inputs := []string{"", "+", "-", "_", "a", "A", "0", "+12345", "+1234", "12345678901234567890", "123456789012345678901",
		strings.Repeat("a", 21), strings.Repeat("a", 22), strings.Repeat("a", 64), strings.Repeat("a", 65), "a" + strings.Repeat("b", 31), "a" + strings.Repeat("b", 32),
		"abc\n", "room_1", "Room", "1room", "ü"}
	for i := 0; i < 3000; i++ {
		n := i % 70
		b := make([]byte, n)
		for j := range b {
			b[j] = alphabet[(i*31+j*17+j*j)%len(alphabet)]
		}
		inputs = append(inputs, string(b))
	}
	cases := []struct {
		rule  string
		check func(string) bool
	}{
		{`^[A-Za-z0-9_-]{22,64}$`, IsCodeToken},
		{`^[A-Za-z0-9_-]{16,64}$`, func(s string) bool { return IsURLSafe(s, 16, 64) }},
		{`^[A-Za-z0-9_-]{1,64}$`, func(s string) bool { return IsURLSafe(s, 1, 64) }},
		{`^[a-z][a-z0-9_]{0,31}$`, IsFieldKey},
		{`^\+?[0-9]{5,20}$`, isPhone},
		{`^[0-9]{1,15}$`, func(s string) bool { return IsDigits(s, 1, 15) }},
	}
	for _, c := range cases {
		re := regexp.MustCompile(c.rule)
		for _, in := range inputs {
			if got, want := c.check(in), re.MatchString(in); got != want {
				t.Errorf("%s: %q gives %v, the rule %v", c.rule, in, got, want)
			}
		}
	}
}
