package domain

import (
	"errors"
	"testing"
)

func TestParseYuanExact(t *testing.T) {
	cases := []struct {
		in   string
		want Fen
	}{
		{"0", 0},
		{"0.01", 1},
		{"0.1", 10},
		{"0.10", 10},
		{"1", 100},
		{"12", 1200},
		{"12.5", 1250},
		{"12.50", 1250},
		{"12.34", 1234},
		{"0.99", 99},
		{"100.07", 10007},
		{"50000", 5_000_000},
		{"50000.00", 5_000_000},
		// Values where float64 arithmetic would round wrongly.
		{"0.29", 29},
		{"1.15", 115},
		{"4.35", 435},
		{"19.99", 1999},
		{"999999999999.99", 99_999_999_999_999},
	}
	for _, c := range cases {
		got, err := ParseYuan(c.in)
		if err != nil {
			t.Errorf("ParseYuan(%q): unexpected error %v", c.in, err)
			continue
		}
		if got != c.want {
			t.Errorf("ParseYuan(%q) = %d, want %d", c.in, got, c.want)
		}
	}
}

func TestParseYuanRejects(t *testing.T) {
	for _, in := range []string{
		"", ".5", "1.", "1.234", "-1", "+1", "1e2", "1E2", " 1", "1 ", "01", "00", "00.5",
		"１", "1.０", "1,5", "1.2.3", "..", ".", "abc", "0x10", "1_000", "NaN", "Inf",
		"1.-5", "1.+5", "\t1", "1\n", "٣", // Arabic-Indic digit three
		"1000000000000", // 13 integer digits: beyond the accepted range
		"99999999999999999999",
	} {
		got, err := ParseYuan(in)
		if err == nil {
			t.Errorf("ParseYuan(%q) = %d, want an error", in, got)
			continue
		}
		if !errors.Is(err, ErrAmount) {
			t.Errorf("ParseYuan(%q): error %v is not ErrAmount", in, err)
		}
		if got != 0 {
			t.Errorf("ParseYuan(%q) returned %d alongside an error", in, got)
		}
	}
}

func TestFormatYuan(t *testing.T) {
	cases := []struct {
		in   Fen
		want string
	}{
		{0, "0.00"},
		{1, "0.01"},
		{10, "0.10"},
		{99, "0.99"},
		{100, "1.00"},
		{1234, "12.34"},
		{1250, "12.50"},
		{5_000_000, "50000.00"},
		{-1, "-0.01"},
		{-1234, "-12.34"},
	}
	for _, c := range cases {
		if got := FormatYuan(c.in); got != c.want {
			t.Errorf("FormatYuan(%d) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestParseFormatRoundTrip(t *testing.T) {
	for f := Fen(0); f <= 100_000; f += 7 {
		s := FormatYuan(f)
		back, err := ParseYuan(s)
		if err != nil || back != f {
			t.Fatalf("round trip %d -> %q -> %d, %v", f, s, back, err)
		}
	}
}

func TestCheckFreeAmount(t *testing.T) {
	const max Fen = 5_000_000
	cases := []struct {
		amount Fen
		ok     bool
		msg    string
	}{
		{MinAmount, true, ""},
		{1, true, ""},
		{2, true, ""},
		{max - 1, true, ""},
		{max, true, ""},
		{max + 1, false, "单笔金额不能超过 50000.00 元"},
		{0, false, "金额至少 0.01 元"},
		{-1, false, "金额至少 0.01 元"},
		{-max, false, "金额至少 0.01 元"},
	}
	for _, c := range cases {
		err := CheckFreeAmount(c.amount, max)
		if c.ok {
			if err != nil {
				t.Errorf("CheckFreeAmount(%d, %d) = %v, want nil", c.amount, max, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("CheckFreeAmount(%d, %d) = nil, want an error", c.amount, max)
			continue
		}
		if err.Error() != c.msg {
			t.Errorf("CheckFreeAmount(%d, %d) = %q, want exactly %q", c.amount, max, err, c.msg)
		}
		var tooLarge *AmountTooLargeError
		if isLarge := errors.As(err, &tooLarge); isLarge != (c.amount > max) || errors.Is(err, ErrAmountTooSmall) != (c.amount < MinAmount) {
			t.Errorf("CheckFreeAmount(%d, %d) = %#v: wrong error kind", c.amount, max, err)
		}
	}
	// A small configured maximum (per community) is honoured inclusively too.
	if err := CheckFreeAmount(100, 100); err != nil {
		t.Errorf("CheckFreeAmount(100, 100) = %v", err)
	}
	if err := CheckFreeAmount(101, 100); err == nil || err.Error() != "单笔金额不能超过 1.00 元" {
		t.Errorf("CheckFreeAmount(101, 100) = %v, want 单笔金额不能超过 1.00 元", err)
	}
	if ErrAmount.Error() != MsgAmountFormat || MsgAmountFormat != "请输入正确的金额（最多两位小数）" {
		t.Errorf("format message %q", ErrAmount)
	}
}
