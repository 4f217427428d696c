package invoice

import (
	"fmt"
	"math/big"
	"strings"
)

// Rate is a VAT rate in basis points (1/100 of a percent): 600 = 6%, 300 =
// 3%, 100 = 1%, 0 = 0% or 免税 (exempt). Integers only: no float ever
// touches an amount.
type Rate int64

// Rates the settings may choose (the rates of 增值税 a property company
// invoices at: 6% services, 9%/13% goods and utilities, 3%/1% small-scale
// taxpayers, 5% rents, 0 exempt).
var Rates = []Rate{0, 100, 300, 500, 600, 900, 1300}

// Valid reports whether r is one of Rates.
func (r Rate) Valid() bool {
	for _, v := range Rates {
		if v == r {
			return true
		}
	}
	return false
}

// String is the rate as printed on an invoice: "6%", "0%".
func (r Rate) String() string {
	if r%100 == 0 {
		return fmt.Sprintf("%d%%", r/100)
	}
	return fmt.Sprintf("%d.%02d%%", r/100, r%100)
}

// Decimal is the rate as the platform's taxRate field takes it: "0.06".
func (r Rate) Decimal() string {
	s := strings.TrimRight(fmt.Sprintf("%d.%04d", r/10000, r%10000), "0")
	return strings.TrimSuffix(s, ".")
}

// Split divides an amount including tax into the amount excluding tax and
// the tax, in fen:
//
//	tax  = round-half-up(incl × rate / (1 + rate))
//	     = round-half-up(incl × r / (10000 + r))      r in basis points
//	excl = incl − tax
//
// computed as ⌊(2·incl·r + (10000+r)) / (2·(10000+r))⌋ in integers (big.Int,
// so even absurd amounts cannot overflow). excl + tax == incl always: the
// tax is rounded, the amount excluding tax is what remains. Negative amounts
// (red-letter lines) are split as the negation of their absolute value, so a
// red line is exactly the blue one negated.
func Split(inclFen int64, r Rate) (exclFen, taxFen int64) {
	if inclFen < 0 {
		e, t := Split(-inclFen, r)
		return -e, -t
	}
	if r <= 0 {
		return inclFen, 0
	}
	den := big.NewInt(2 * (10000 + int64(r)))
	num := new(big.Int).Mul(big.NewInt(inclFen), big.NewInt(2*int64(r)))
	num.Add(num, big.NewInt(10000+int64(r)))
	tax := num.Quo(num, den).Int64()
	return inclFen - tax, tax
}
