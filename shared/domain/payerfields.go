package domain

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// FieldType is how a payer field's value is entered and checked.
type FieldType string

const (
	FieldText   FieldType = "text"   // any printable text (房号 "3-1-201", 业主姓名, 备注)
	FieldNumber FieldType = "number" // digits only
	FieldPhone  FieldType = "phone"  // a phone number: digits, optional leading +, spaces or hyphens
)

// Limits on payer field definitions and values.
const (
	MaxPayerFields     = 8   // fields per level
	MaxFieldLabelRunes = 20  // label length
	MaxFieldValueRunes = 200 // the largest MaxLen a field may set
)

// defaultMaxLen is a field's MaxLen when its definition leaves it 0.
var defaultMaxLen = map[FieldType]int{FieldText: 50, FieldNumber: 20, FieldPhone: 20}

// PayerField is one thing a payer is asked to fill in before paying (M5):
// offered (optional) or required, at a company, a community or a code.
type PayerField struct {
	Key      string    `json:"key" dynamodbav:"key"`     // a-z, 0-9, _; starts with a letter; <= 32
	Label    string    `json:"label" dynamodbav:"label"` // what the page shows, e.g. 房号
	Type     FieldType `json:"type" dynamodbav:"type"`
	Required bool      `json:"required,omitempty" dynamodbav:"required,omitempty"`
	MinLen   int       `json:"min_len,omitempty" dynamodbav:"min_len,omitempty"` // in characters
	MaxLen   int       `json:"max_len,omitempty" dynamodbav:"max_len,omitempty"` // in characters; 0: the type's default
}

// Max is the field's effective maximum length in characters.
func (f PayerField) Max() int {
	if f.MaxLen > 0 {
		return f.MaxLen
	}
	return defaultMaxLen[f.Type]
}

// PayerFields is the list of fields of one level, in display order.
type PayerFields []PayerField

// Check reports the first problem with the definitions (for whoever configures
// them: the console, the demo seed).
func (fs PayerFields) Check() error {
	if len(fs) > MaxPayerFields {
		return fmt.Errorf("payer fields: at most %d per level, got %d", MaxPayerFields, len(fs))
	}
	seen := map[string]bool{}
	for i, f := range fs {
		switch {
		case !IsFieldKey(f.Key):
			return fmt.Errorf("payer field %d: key %q must be 1-32 of a-z 0-9 _ starting with a letter", i, f.Key)
		case seen[f.Key]:
			return fmt.Errorf("payer field %q: duplicate key", f.Key)
		case strings.TrimSpace(f.Label) == "" || utf8.RuneCountInString(f.Label) > MaxFieldLabelRunes || !printable(f.Label):
			return fmt.Errorf("payer field %q: label must be 1-%d printable characters", f.Key, MaxFieldLabelRunes)
		case defaultMaxLen[f.Type] == 0:
			return fmt.Errorf("payer field %q: type %q must be text, number or phone", f.Key, f.Type)
		case f.MinLen < 0 || f.MaxLen < 0 || f.MaxLen > MaxFieldValueRunes:
			return fmt.Errorf("payer field %q: lengths must be 0-%d", f.Key, MaxFieldValueRunes)
		case f.MinLen > f.Max():
			return fmt.Errorf("payer field %q: min_len %d exceeds max_len %d", f.Key, f.MinLen, f.Max())
		}
		seen[f.Key] = true
	}
	return nil
}

// ResolvePayerFields applies "the most specific level wins": the code's fields
// if it defines any, else the community's, else the company's. A level's list
// replaces the levels above it whole (no per-key merging), so what a code
// shows is exactly one configured list.
func ResolvePayerFields(company, community, code PayerFields) PayerFields {
	for _, l := range []PayerFields{code, community, company} {
		if len(l) > 0 {
			return l
		}
	}
	return nil
}

// FieldError is a payer field value that does not fit its definition; the text
// is what the payer reads.
type FieldError struct {
	Key string
	Msg string
}

func (e *FieldError) Error() string { return e.Msg }

// ErrTooManyFieldValues is a request carrying more values than any level may define.
var ErrTooManyFieldValues = errors.New("填写的信息过多")

// Validate checks the payer's values against the fields and returns them
// cleaned (surrounding spaces trimmed; empty optional values dropped; phone
// numbers without spaces and hyphens). A value for a key that is not offered,
// a missing required value, a value of the wrong length or shape are
// *FieldError with a Chinese message. The result is nil when nothing was
// filled in.
func (fs PayerFields) Validate(values map[string]string) (map[string]string, error) {
	if len(values) > MaxPayerFields {
		return nil, ErrTooManyFieldValues
	}
	offered := map[string]bool{}
	for _, f := range fs {
		offered[f.Key] = true
	}
	keys := slices.Sorted(maps.Keys(values))
	for _, k := range keys {
		if !offered[k] {
			return nil, &FieldError{Key: k, Msg: "不支持的填写项：" + truncate(k, 32)}
		}
	}
	var out map[string]string
	for _, f := range fs {
		v := strings.TrimSpace(values[f.Key])
		if v == "" {
			if f.Required {
				return nil, &FieldError{Key: f.Key, Msg: "请填写" + f.Label}
			}
			continue
		}
		if !utf8.ValidString(v) || !printable(v) {
			return nil, &FieldError{Key: f.Key, Msg: f.Label + "含有不支持的字符"}
		}
		switch f.Type {
		case FieldNumber:
			if strings.Trim(v, "0123456789") != "" {
				return nil, &FieldError{Key: f.Key, Msg: f.Label + "只能填写数字"}
			}
		case FieldPhone:
			v = strings.NewReplacer(" ", "", "-", "").Replace(v)
			if !isPhone(v) {
				return nil, &FieldError{Key: f.Key, Msg: "请填写正确的" + f.Label}
			}
		}
		n := utf8.RuneCountInString(v)
		if n < f.MinLen {
			return nil, &FieldError{Key: f.Key, Msg: fmt.Sprintf("%s至少 %d 个字", f.Label, f.MinLen)}
		}
		if n > f.Max() {
			return nil, &FieldError{Key: f.Key, Msg: fmt.Sprintf("%s最多 %d 个字", f.Label, f.Max())}
		}
		if out == nil {
			out = map[string]string{}
		}
		out[f.Key] = v
	}
	return out, nil
}

// printable reports whether s has no control or format characters (newlines,
// tabs, bidi overrides, zero-width characters) and no invalid UTF-8.
func printable(s string) bool {
	for _, r := range s {
		if r == utf8.RuneError || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return false
		}
	}
	return true
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
