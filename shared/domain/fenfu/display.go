package fenfu

// MinOfferFen is the amount from which 分付 is offered by default (F5: >= 10 yuan).
const MinOfferFen int64 = 1000

// Grade is the payer's credit grade as the provider's exposure call gives it
// ("A" best … "E"); "" when unknown.
type Grade string

// AtLeastB reports whether the grade is B or better (F5: shown first).
func (g Grade) AtLeastB() bool { return g == "A" || g == "B" }

// Exposure is the provider's 支付方式前置 answer for one payer and amount.
type Exposure struct {
	Show  bool   // fqf_exposure: the provider would show 分付 to this payer
	Grade Grade  // the payer's credit grade, when given
	Token string // market_exposure_token, carried in the JSAPI package
}

// DisplayInput is what the display rule looks at.
type DisplayInput struct {
	MerchantOffers bool  // store.Interface.OffersFenfu(): enabled, WeChat
	JSAPI          bool  // a JSAPI payment inside WeChat (not H5, not Native)
	AmountFen      int64 // the amount about to be paid
	FirstOfDay     bool  // the payer's first payment of the day (Asia/Shanghai)
	Exposure       *Exposure
}

// Placement is where the page puts the 分付 choice.
type Placement string

const (
	Hidden Placement = ""      // not offered
	Offer  Placement = "offer" // offered after ordinary payment
	First  Placement = "first" // offered first (credit grade B or above)
)

// Display decides whether and how the payment page offers 分付 (F5): only
// for a merchant that offers it, only by JSAPI (the provider has no 分付 for
// H5 or Native); by default from 10.00 yuan, and always on the payer's first
// payment of the day; within that, the provider's exposure answer decides
// (no answer or fqf_exposure false: not shown), grade B or above first.
func Display(in DisplayInput) Placement {
	if !in.MerchantOffers || !in.JSAPI || in.AmountFen <= 0 {
		return Hidden
	}
	if in.AmountFen < MinOfferFen && !in.FirstOfDay {
		return Hidden
	}
	if in.Exposure == nil || !in.Exposure.Show || in.Exposure.Token == "" {
		return Hidden
	}
	if in.Exposure.Grade.AtLeastB() {
		return First
	}
	return Offer
}
