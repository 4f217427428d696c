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

// The messages residents see for amounts, on the page and from the API alike
// (pay.html shows the same texts).
const (
	MsgAmountFormat   = "请输入正确的金额（最多两位小数）"
	MsgAmountTooSmall = "金额至少 0.01 元"
)

// MsgAmountTooLarge is the message for an amount above max.
func MsgAmountTooLarge(max Fen) string { return "单笔金额不能超过 " + FormatYuan(max) + " 元" }

// ErrAmount describes a malformed amount (not a decimal yuan string with at
// most two decimals).
var ErrAmount = errors.New(MsgAmountFormat)

// ErrAmountTooSmall is an amount below MinAmount (C4).
var ErrAmountTooSmall = errors.New(MsgAmountTooSmall)

// AmountTooLargeError is an amount above the applicable maximum (C4).
type AmountTooLargeError struct{ Max Fen }

func (e *AmountTooLargeError) Error() string { return MsgAmountTooLarge(e.Max) }

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

// CheckFreeAmount applies C4: 0.01 yuan up to max (inclusive). The errors are
// ErrAmountTooSmall and *AmountTooLargeError; their texts are what residents
// read.
func CheckFreeAmount(amount, max Fen) error {
	if amount < MinAmount {
		return ErrAmountTooSmall
	}
	if amount > max {
		return &AmountTooLargeError{Max: max}
	}
	return nil
}
