package domain

import (
	"errors"
	"strings"
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
		{max + 1, false, "at most 50000.00"},
		{0, false, "at least 0.01"},
		{-1, false, "at least 0.01"},
		{-max, false, "at least 0.01"},
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
		if !strings.Contains(err.Error(), c.msg) {
			t.Errorf("CheckFreeAmount(%d, %d) = %q, want it to mention %q", c.amount, max, err, c.msg)
		}
	}
	// A small configured maximum (per community) is honoured inclusively too.
	if err := CheckFreeAmount(100, 100); err != nil {
		t.Errorf("CheckFreeAmount(100, 100) = %v", err)
	}
	if err := CheckFreeAmount(101, 100); err == nil {
		t.Error("CheckFreeAmount(101, 100) accepted")
	}
}
