package settlement

// Run is the checkpoint of settling one merchant × channel × day: how far
// through the day's payments (in payment-time order, by the settle index's
// sort key paid_at#id) and then through the refunds that succeeded that day
// (by succeeded_at#id) it has got, and the statements so far, one per
// payment method. It is written after every step under an optimistic lock on
// Version, so a run cut off anywhere resumes at its last step, and of two
// concurrent runs the one that loses a write reloads and continues from the
// other's checkpoint: both end at the same statements.
//
// A finished run (Done) settled again starts a new Generation from the
// beginning of the day: the same payments yield the identical statements.
type Run struct {
	Key        Key // Method unused: a run covers every method of the channel
	CompanyID  string
	Generation int64
	After      string // sort key of the last payment counted ("" none yet)
	// PaymentsDone: every payment is counted; the run goes on with the
	// day's refunds from RefundsAfter (the last refund counted, "" none).
	PaymentsDone bool
	RefundsAfter string
	Done         bool
	Version      int64
	Statements   map[string]Statement // by method
}
