// Package domain holds the product's rules: money in fen, channel availability
// per community (C2), scanning-app detection (C3), free-amount limits (C4) and the
// order state machine. Pure Go: no AWS, no I/O.
package domain

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Fen is an amount of money in fen (1/100 yuan).
type Fen = int64

// ErrAmount describes a malformed amount.
var ErrAmount = errors.New("amount must be yuan with at most two decimals, e.g. 12.5 or 12.50")

// ParseYuan parses a decimal yuan string ("12", "12.5", "12.34") into fen exactly.
// Signs, exponents, spaces and more than two decimals are rejected.
func ParseYuan(s string) (Fen, error) {
	intPart, frac, hasDot := strings.Cut(s, ".")
	if intPart == "" || len(intPart) > 12 || (hasDot && (frac == "" || len(frac) > 2)) {
		return 0, ErrAmount
	}
	for _, r := range intPart + frac {
		if r < '0' || r > '9' {
			return 0, ErrAmount
		}
	}
	if len(intPart) > 1 && intPart[0] == '0' {
		return 0, ErrAmount
	}
	for len(frac) < 2 {
		frac += "0"
	}
	y, err := strconv.ParseInt(intPart, 10, 64)
	if err != nil {
		return 0, ErrAmount
	}
	f, _ := strconv.ParseInt(frac, 10, 64)
	return y*100 + f, nil
}

// FormatYuan renders fen as a yuan string with two decimals ("12.34").
func FormatYuan(f Fen) string {
	sign := ""
	if f < 0 {
		sign, f = "-", -f
	}
	return fmt.Sprintf("%s%d.%02d", sign, f/100, f%100)
}

// MinAmount is the smallest free-amount payment (C4): 0.01 yuan.
const MinAmount Fen = 1

// CheckFreeAmount applies C4: 0.01 yuan up to max (inclusive).
func CheckFreeAmount(amount, max Fen) error {
	if amount < MinAmount {
		return fmt.Errorf("amount must be at least 0.01 yuan")
	}
	if amount > max {
		return fmt.Errorf("amount must be at most %s yuan", FormatYuan(max))
	}
	return nil
}
