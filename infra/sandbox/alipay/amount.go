package alipay

import (
	"errors"
	"strconv"
	"strings"
)

// maxAmountFen is Alipay's upper bound for total_amount (100000000.00 yuan).
const maxAmountFen = 100_000_000_00

var errBadAmount = errors.New("invalid amount")

// parseYuan parses an Alipay amount string ("12", "12.3", "12.34") into fen
// exactly: no floats, no sign, no exponent, at most two decimals.
func parseYuan(s string) (int64, error) {
	intPart, frac, hasDot := strings.Cut(s, ".")
	if intPart == "" || len(intPart) > 12 || (hasDot && (frac == "" || len(frac) > 2)) {
		return 0, errBadAmount
	}
	for _, part := range []string{intPart, frac} {
		for _, c := range part {
			if c < '0' || c > '9' {
				return 0, errBadAmount
			}
		}
	}
	yuan, err := strconv.ParseInt(intPart, 10, 64)
	if err != nil {
		return 0, errBadAmount
	}
	for len(frac) < 2 {
		frac += "0"
	}
	fen, _ := strconv.ParseInt(frac, 10, 64)
	return yuan*100 + fen, nil
}

// formatYuan renders fen as Alipay does: "12.34", "-0.05".
func formatYuan(fen int64) string {
	sign := ""
	if fen < 0 {
		sign, fen = "-", -fen
	}
	return sign + strconv.FormatInt(fen/100, 10) + "." + strconv.FormatInt(fen%100/10, 10) + strconv.FormatInt(fen%10, 10)
}
