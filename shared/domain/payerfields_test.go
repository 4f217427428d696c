package domain

import (
	"errors"
	"maps"
	"strings"
	"testing"
)

func TestPayerFieldsCheck(t *testing.T) {
	room := PayerField{Key: "room", Label: "房号", Type: FieldText, Required: true, MaxLen: 20}
	many := make(PayerFields, MaxPayerFields+1)
	for i := range many {
		many[i] = PayerField{Key: "f" + string(rune('a'+i)), Label: "项", Type: FieldText}
	}
	cases := []struct {
		name string
		fs   PayerFields
		bad  string // "" = valid; else a word of the error
	}{
		{"none", nil, ""},
		{"room", PayerFields{room}, ""},
		{"all types", PayerFields{room, {Key: "owner", Label: "业主姓名", Type: FieldText}, {Key: "phone", Label: "手机号", Type: FieldPhone}, {Key: "area", Label: "面积", Type: FieldNumber, MinLen: 1, MaxLen: 5}}, ""},
		{"max per level", many[:MaxPayerFields], ""},
		{"too many", many, "at most"},
		{"upper-case key", PayerFields{{Key: "Room", Label: "房号", Type: FieldText}}, "key"},
		{"key with dash", PayerFields{{Key: "room-no", Label: "房号", Type: FieldText}}, "key"},
		{"key starts with digit", PayerFields{{Key: "1room", Label: "房号", Type: FieldText}}, "key"},
		{"empty key", PayerFields{{Key: "", Label: "房号", Type: FieldText}}, "key"},
		{"long key", PayerFields{{Key: strings.Repeat("k", 33), Label: "房号", Type: FieldText}}, "key"},
		{"duplicate", PayerFields{room, room}, "duplicate"},
		{"blank label", PayerFields{{Key: "room", Label: "  ", Type: FieldText}}, "label"},
		{"long label", PayerFields{{Key: "room", Label: strings.Repeat("房", 21), Type: FieldText}}, "label"},
		{"label with newline", PayerFields{{Key: "room", Label: "房\n号", Type: FieldText}}, "label"},
		{"unknown type", PayerFields{{Key: "room", Label: "房号", Type: "date"}}, "type"},
		{"no type", PayerFields{{Key: "room", Label: "房号"}}, "type"},
		{"negative min", PayerFields{{Key: "room", Label: "房号", Type: FieldText, MinLen: -1}}, "lengths"},
		{"max over limit", PayerFields{{Key: "room", Label: "房号", Type: FieldText, MaxLen: MaxFieldValueRunes + 1}}, "lengths"},
		{"min over max", PayerFields{{Key: "room", Label: "房号", Type: FieldText, MinLen: 6, MaxLen: 5}}, "exceeds"},
		{"min over default max", PayerFields{{Key: "n", Label: "编号", Type: FieldNumber, MinLen: 21}}, "exceeds"},
	}
	for _, c := range cases {
		err := c.fs.Check()
		if c.bad == "" && err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
		if c.bad != "" && (err == nil || !strings.Contains(err.Error(), c.bad)) {
			t.Errorf("%s: error %v, want one about %q", c.name, err, c.bad)
		}
	}
}

func TestResolvePayerFieldsMostSpecificWins(t *testing.T) {
	company := PayerFields{{Key: "owner", Label: "业主姓名", Type: FieldText}}
	community := PayerFields{{Key: "room", Label: "房号", Type: FieldText, Required: true}}
	code := PayerFields{{Key: "note", Label: "备注", Type: FieldText}}
	cases := []struct {
		name                   string
		company, community, cd PayerFields
		want                   string
	}{
		{"code wins", company, community, code, "note"},
		{"community over company", company, community, nil, "room"},
		{"company alone", company, nil, nil, "owner"},
		{"empty code list does not hide the community's", company, community, PayerFields{}, "room"},
		{"nothing", nil, nil, nil, ""},
	}
	for _, c := range cases {
		got := ResolvePayerFields(c.company, c.community, c.cd)
		var keys []string
		for _, f := range got {
			keys = append(keys, f.Key)
		}
		if strings.Join(keys, ",") != c.want {
			t.Errorf("%s: got %v, want %q", c.name, keys, c.want)
		}
	}
}

func TestPayerFieldsValidate(t *testing.T) {
	fs := PayerFields{
		{Key: "room", Label: "房号", Type: FieldText, Required: true, MinLen: 2, MaxLen: 10},
		{Key: "owner", Label: "业主姓名", Type: FieldText},
		{Key: "phone", Label: "手机号", Type: FieldPhone},
		{Key: "area", Label: "面积", Type: FieldNumber, MaxLen: 4},
	}
	cases := []struct {
		name   string
		in     map[string]string
		want   map[string]string // on success
		errKey string            // on failure: the offending key
		errMsg string            // and the exact message
	}{
		{"required only", map[string]string{"room": "3-201"}, map[string]string{"room": "3-201"}, "", ""},
		{"trimmed, empty optional dropped", map[string]string{"room": "  3-201 ", "owner": "  ", "area": ""}, map[string]string{"room": "3-201"}, "", ""},
		{"all", map[string]string{"room": "A栋1201", "owner": "张三", "phone": "138 0013-8000", "area": "89"},
			map[string]string{"room": "A栋1201", "owner": "张三", "phone": "13800138000", "area": "89"}, "", ""},
		{"international phone", map[string]string{"room": "12", "phone": "+85291234567"}, map[string]string{"room": "12", "phone": "+85291234567"}, "", ""},
		{"exactly max runes", map[string]string{"room": strings.Repeat("房", 10)}, map[string]string{"room": strings.Repeat("房", 10)}, "", ""},
		{"missing required", map[string]string{"owner": "张三"}, nil, "room", "请填写房号"},
		{"blank required", map[string]string{"room": " \u3000 "}, nil, "room", "请填写房号"},
		{"nil values", nil, nil, "room", "请填写房号"},
		{"too short", map[string]string{"room": "1"}, nil, "room", "房号至少 2 个字"},
		{"too long in runes", map[string]string{"room": strings.Repeat("房", 11)}, nil, "room", "房号最多 10 个字"},
		{"default max for text", map[string]string{"room": "12", "owner": strings.Repeat("张", 51)}, nil, "owner", "业主姓名最多 50 个字"},
		{"number with letters", map[string]string{"room": "12", "area": "8a"}, nil, "area", "面积只能填写数字"},
		{"number too long", map[string]string{"room": "12", "area": "12345"}, nil, "area", "面积最多 4 个字"},
		{"full-width digits are not digits", map[string]string{"room": "12", "area": "１２"}, nil, "area", "面积只能填写数字"},
		{"bad phone", map[string]string{"room": "12", "phone": "call me"}, nil, "phone", "请填写正确的手机号"},
		{"short phone", map[string]string{"room": "12", "phone": "1234"}, nil, "phone", "请填写正确的手机号"},
		{"newline", map[string]string{"room": "3\n201"}, nil, "room", "房号含有不支持的字符"},
		{"bidi override", map[string]string{"room": "3\u202e201"}, nil, "room", "房号含有不支持的字符"},
		{"invalid utf-8", map[string]string{"room": "3\xff201"}, nil, "room", "房号含有不支持的字符"},
		{"unknown key", map[string]string{"room": "12", "admin": "1"}, nil, "admin", "不支持的填写项：admin"},
		{"markup is kept as text", map[string]string{"room": "<b>12</b>"}, map[string]string{"room": "<b>12</b>"}, "", ""},
	}
	for _, c := range cases {
		got, err := fs.Validate(c.in)
		if c.errKey == "" {
			if err != nil || !maps.Equal(got, c.want) {
				t.Errorf("%s: got %v, %v; want %v", c.name, got, err, c.want)
			}
			continue
		}
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Key != c.errKey || fe.Msg != c.errMsg || err.Error() != c.errMsg {
			t.Errorf("%s: error %#v, want %s: %q", c.name, err, c.errKey, c.errMsg)
		}
		if got != nil {
			t.Errorf("%s: values %v returned with an error", c.name, got)
		}
	}

	// No fields offered: nothing may be sent, and nothing is stored.
	if got, err := PayerFields(nil).Validate(nil); err != nil || got != nil {
		t.Errorf("no fields, no values: %v %v", got, err)
	}
	if _, err := PayerFields(nil).Validate(map[string]string{"room": "1"}); err == nil {
		t.Error("a value accepted where no field is offered")
	}
	many := map[string]string{}
	for i := 0; i <= MaxPayerFields; i++ {
		many["k"+string(rune('a'+i))] = "v"
	}
	if _, err := fs.Validate(many); !errors.Is(err, ErrTooManyFieldValues) {
		t.Errorf("%d values: %v", len(many), err)
	}
}
