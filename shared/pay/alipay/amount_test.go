package alipay_test

import (
	"errors"
	"testing"

	"github.com/estatepay/estatepay/shared/pay/alipay"
)

func TestParseYuan(t *testing.T) {
	good := map[string]int64{
		"0.01": 1, "0.1": 10, "12": 1200, "12.3": 1230, "12.34": 1234, "0": 0, "0.00": 0,
		"100000000.00": 10_000_000_000, "007.05": 705, "999999999999.99": 99_999_999_999_999,
	}
	for s, want := range good {
		if got, err := alipay.ParseYuan(s); err != nil || got != want {
			t.Errorf("ParseYuan(%q) = %d, %v; want %d", s, got, err, want)
		}
	}
	for _, s := range []string{"", ".", ".5", "5.", "12.345", "12.3.4", "-1.00", "+1.00", "1e2", " 1.00", "1.00 ",
		"1,000.00", "１.00", "0x10", "NaN", "1000000000000.00", "12.3a"} {
		if got, err := alipay.ParseYuan(s); !errors.Is(err, alipay.ErrBadAmount) {
			t.Errorf("ParseYuan(%q) = %d, %v; want ErrBadAmount", s, got, err)
		}
	}
}

func TestFormatYuan(t *testing.T) {
	for fen, want := range map[int64]string{0: "0.00", 1: "0.01", 10: "0.10", 1234: "12.34", 100000: "1000.00", -5: "-0.05", -1234: "-12.34"} {
		if got := alipay.FormatYuan(fen); got != want {
			t.Errorf("FormatYuan(%d) = %q, want %q", fen, got, want)
		}
		if fen >= 0 {
			if back, err := alipay.ParseYuan(alipay.FormatYuan(fen)); err != nil || back != fen {
				t.Errorf("round trip %d = %d, %v", fen, back, err)
			}
		}
	}
}
