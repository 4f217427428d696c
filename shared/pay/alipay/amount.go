package alipay

import (
	"errors"
	"strconv"
	"strings"
)

// ErrBadAmount reports an amount string that is not a plain non-negative
// decimal with at most two fraction digits.
var ErrBadAmount = errors.New("alipay: invalid amount")

// ParseYuan converts an Alipay amount ("12", "12.3", "12.34") to fen exactly,
// without floating point. Signs, exponents, spaces, more than two decimals and
// values beyond 999,999,999,999.99 are rejected.
func ParseYuan(s string) (int64, error) {
	intPart, frac, hasDot := strings.Cut(s, ".")
	if intPart == "" || len(intPart) > 12 || (hasDot && (frac == "" || len(frac) > 2)) {
		return 0, ErrBadAmount
	}
	for _, part := range []string{intPart, frac} {
		for i := 0; i < len(part); i++ {
			if part[i] < '0' || part[i] > '9' {
				return 0, ErrBadAmount
			}
		}
	}
	yuan, err := strconv.ParseInt(intPart, 10, 64)
	if err != nil {
		return 0, ErrBadAmount
	}
	frac += strings.Repeat("0", 2-len(frac))
	fen, err := strconv.ParseInt(frac, 10, 64)
	if err != nil {
		return 0, ErrBadAmount
	}
	return yuan*100 + fen, nil
}

// FormatYuan renders fen as Alipay expects: 1234 → "12.34", 5 → "0.05".
func FormatYuan(fen int64) string {
	sign := ""
	if fen < 0 {
		sign, fen = "-", -fen
	}
	frac := strconv.FormatInt(fen%100, 10)
	if len(frac) < 2 {
		frac = "0" + frac
	}
	return sign + strconv.FormatInt(fen/100, 10) + "." + frac
}
