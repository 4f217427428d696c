// Package fenfu is WeChat 分付 (credit payment), as the merchant sees it
// (F1–F7): who may offer it, when it is shown, the risk rules around it and
// what they decide. Pure domain code: no clock, no store; limits and time
// are passed in.
package fenfu

import (
	"time"

	dsettle "github.com/estatepay/estatepay/shared/domain/settlement"
)

// Method is the order.Method of a payment the payer made by 分付.
const Method = dsettle.MethodFenfu

// Decision is what a risk rule decided about a payment.
type Decision string

const (
	Allow  Decision = "allow"  // nothing against it
	Refuse Decision = "refuse" // not by 分付 (the payer is offered ordinary payment)
	Warn   Decision = "warn"   // allowed; risk officers are told
	Hold   Decision = "hold"   // allowed; held out of settlement (S3) for review
)

// RiskRecord is one decision of one rule about one payment (F4: every
// decision is recorded). It is 分付 data (F6): kept apart, encrypted, read in
// full only by risk officers, deleted after its retention (3 years).
type RiskRecord struct {
	ID          string // unique: order id + rule (a rule decides once per payment)
	CompanyID   string
	MerchantID  string
	OrderID     string
	PayerOpenID string // sensitive: the payer ("the card")
	Rule        string // e.g. "night_large", "daily_limit", "three_in_a_row", "suspicious"
	Decision    Decision
	Detail      string // for people, in Chinese
	AmountFen   int64
	At          time.Time
}
