// Package invoice is the Invoice aggregate (电子发票, 数电票, issue 13): the
// invoice a resident asks for on the receipt of a paid order, its lines and
// tax computed exactly in fen from the company's invoicing settings, and its
// state machine. Pure: no I/O, no clock (times are passed in).
//
//	REQUESTED ─submit─► SUBMITTED ─issue─► ISSUED ─red─► RED_REQUESTED ─reversed─► REVERSED
//	    │   ▲──retry──┘    │                              (红冲: 红字确认单 + red invoice)
//	    ├──fail──► FAILED ◄┘ (the platform refused it, with its reason)
//	    └──cancel─► CANCELLED (the payment was refunded before we submitted it)
//
// One order has at most one invoice per sequence number: the first a
// resident asks for is 1; after a partial refund the original is reversed in
// full and a new blue invoice for what was kept is sequence 2, 3 …
package invoice

import (
	"errors"
	"fmt"
	"math/big"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/estatepay/estatepay/shared/domain/transition"
)

// Status is an invoice's state.
type Status string

const (
	Requested    Status = "REQUESTED"
	Submitted    Status = "SUBMITTED"
	Issued       Status = "ISSUED"
	RedRequested Status = "RED_REQUESTED"
	Reversed     Status = "REVERSED"
	Failed       Status = "FAILED"
	Cancelled    Status = "CANCELLED"
)

var transitions = transition.Table[Status]{
	Submitted:    {Requested},
	Issued:       {Submitted},
	Failed:       {Requested, Submitted},
	Cancelled:    {Requested, Failed},
	RedRequested: {Issued, Submitted}, // Submitted: issued while a refund waited (Issue with RedPending)
	Reversed:     {RedRequested},
}

// From returns the states from which to may be reached.
func From(to Status) []Status { return transitions.From(to) }

// Label is the status in Chinese, for pages.
func (s Status) Label() string {
	switch s {
	case Requested, Submitted:
		return "开票中"
	case Issued:
		return "已开票"
	case RedRequested:
		return "红冲中"
	case Reversed:
		return "已红冲"
	case Failed:
		return "开票失败"
	case Cancelled:
		return "已取消"
	}
	return string(s)
}

// TitleKind is 抬头类型.
type TitleKind string

const (
	Personal TitleKind = "personal" // 个人
	Company  TitleKind = "company"  // 单位
)

// Title is the buyer (购买方): a name, and for a company its tax number
// (统一社会信用代码 / 纳税人识别号).
type Title struct {
	Kind  TitleKind
	Name  string
	TaxNo string
}

// Line is one invoice line (明细).
type Line struct {
	Name    string // goods/service name, e.g. 物业管理服务 (*物业服务*物业管理服务 on the invoice)
	TaxCode string // 税收分类编码, 19 digits
	Rate    Rate
	InclFen int64 // amount including tax
	ExclFen int64
	TaxFen  int64
	FeeItem string // the fee item it came from (物业费) or "" for a free amount
}

// Invoice is the aggregate. Fields are exported for the repositories;
// change them only through the methods below.
type Invoice struct {
	ID          string // our serial (the platform's orderNo): <order id>-<seq>
	OrderID     string
	Seq         int
	CompanyID   string
	CommunityID string
	Title       Title
	Email       string
	SellerName  string
	SellerTaxNo string
	Lines       []Line
	TotalFen    int64 // Σ InclFen = what was paid (less refunds for a re-issue)
	ExclFen     int64
	TaxFen      int64
	Replaces    string // a re-issue: the invoice it replaces

	Status    Status
	Version   int64
	CreatedAt time.Time

	// Set by the platform.
	PlatformSerial string // the platform's invoiceSerialNum
	Number         string // 发票号码 (数电票: 20 digits)
	PDFURL         string
	IssuedAt       time.Time
	FailReason     string

	// Red-letter reversal.
	RedPending bool   // a refund arrived before the invoice was issued: reverse it when it is
	RedEventID string // the refund event that asked for it (idempotency)
	RedKeepFen int64  // what the payer kept: re-issue a blue invoice for it once reversed (0: none)
	RedSerial  string
	RedNumber  string
	RedPDFURL  string
	ReversedAt time.Time

	Attempts    int
	NextCheckAt time.Time // when the schedule submits or asks again (zero: nothing to do)
	// The e-mail: claimed (EmailClaimedAt) by the one sender, then sent
	// (Emailed). A claim not confirmed within EmailGrace — the sender died
	// between its claim and its confirmation — is due again: the e-mail is
	// never lost, and sent twice only if the sender died after SES took it.
	EmailClaimedAt time.Time
	Emailed        bool
}

// EmailGrace is how long a claimed e-mail may take before the schedule
// sends it again.
const EmailGrace = 5 * time.Minute

// Errors.
var (
	ErrInvalid    = errors.New("invoice: invalid")
	ErrNotAllowed = errors.New("invoice: transition not allowed")
	ErrNoChange   = errors.New("invoice: already in that state")
	ErrNotFound   = errors.New("invoice: not found")
	ErrExists     = errors.New("invoice: exists")
	ErrDisabled   = errors.New("invoice: the company does not issue invoices here")
)

// ID is the invoice id of an order's seq-th invoice.
func ID(orderID string, seq int) string { return fmt.Sprintf("%s-%d", orderID, seq) }

// ValidTaxNo reports whether s looks like a 纳税人识别号 / 统一社会信用代码:
// 15 to 20 characters, digits and capital letters (the 18-character USCC,
// old 15/17/20-character numbers).
func ValidTaxNo(s string) bool {
	if len(s) < 15 || len(s) > 20 {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'A' || c > 'Z') {
			return false
		}
	}
	return true
}

// NormalizeTitle trims and upper-cases the tax number and checks the title:
// a name of 1–100 characters; a company needs a valid tax number, a person
// has none.
func NormalizeTitle(t Title) (Title, error) {
	t.Name = strings.TrimSpace(t.Name)
	t.TaxNo = strings.ToUpper(strings.TrimSpace(t.TaxNo))
	switch t.Kind {
	case Personal:
		t.TaxNo = ""
	case Company:
		if !ValidTaxNo(t.TaxNo) {
			return t, fmt.Errorf("%w: 请填写正确的税号（统一社会信用代码，15–20 位数字或大写字母）", ErrInvalid)
		}
	default:
		return t, fmt.Errorf("%w: 请选择抬头类型（个人或单位）", ErrInvalid)
	}
	if n := utf8.RuneCountInString(t.Name); n == 0 || n > 100 {
		return t, fmt.Errorf("%w: 请填写发票抬头（不超过 100 字）", ErrInvalid)
	}
	return t, nil
}

// NormalizeEmail checks the address the invoice is sent to.
func NormalizeEmail(s string) (string, error) {
	s = strings.TrimSpace(s)
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || len(s) > 254 {
		return "", fmt.Errorf("%w: 请填写正确的邮箱地址", ErrInvalid)
	}
	return s, nil
}

// Part is one part of a payment to invoice: a bill's fee item and amount,
// or the whole free amount (FeeItem "").
type Part struct {
	FeeItem string
	Fen     int64
}

// Request is what New needs.
type Request struct {
	OrderID, CompanyID, CommunityID string
	Seq                             int
	Title                           Title
	Email                           string
	Parts                           []Part // the payment's parts; Σ Fen is invoiced
	FreeAmount                      bool   // the payment was a free amount (not bills)
	Replaces                        string
}

// New is a REQUESTED invoice, its lines from settings: one line per part,
// each part's amount split into amount excluding tax and tax (Split), so
// the lines add up to exactly what was paid. Parts of the same fee item are
// merged into one line first (one 物业费 line for three months).
func New(req Request, s Settings, now time.Time) (Invoice, error) {
	if !s.Enabled {
		return Invoice{}, ErrDisabled
	}
	if req.FreeAmount && !s.AllowFreeAmount {
		return Invoice{}, ErrDisabled
	}
	if req.OrderID == "" || req.CompanyID == "" || req.Seq < 1 {
		return Invoice{}, fmt.Errorf("%w: missing order", ErrInvalid)
	}
	t, err := NormalizeTitle(req.Title)
	if err != nil {
		return Invoice{}, err
	}
	email, err := NormalizeEmail(req.Email)
	if err != nil {
		return Invoice{}, err
	}
	lines, err := s.Lines(req.Parts)
	if err != nil {
		return Invoice{}, err
	}
	inv := Invoice{ID: ID(req.OrderID, req.Seq), OrderID: req.OrderID, Seq: req.Seq, CompanyID: req.CompanyID,
		CommunityID: req.CommunityID, Title: t, Email: email, SellerName: s.SellerName, SellerTaxNo: s.SellerTaxNo,
		Lines: lines, Replaces: req.Replaces, Status: Requested, Version: 1, CreatedAt: now, NextCheckAt: now}
	for _, l := range lines {
		inv.TotalFen += l.InclFen
		inv.ExclFen += l.ExclFen
		inv.TaxFen += l.TaxFen
	}
	if inv.TotalFen <= 0 {
		return Invoice{}, fmt.Errorf("%w: 金额为零，无需开票", ErrInvalid)
	}
	return inv, nil
}

func (inv *Invoice) move(to Status) error {
	if inv.Status == to {
		return ErrNoChange
	}
	if !transitions.Allows(inv.Status, to) {
		return fmt.Errorf("%w: %s → %s", ErrNotAllowed, inv.Status, to)
	}
	inv.Status = to
	inv.Version++
	return nil
}

// Submitted records that the platform accepted the issue request (serial:
// its invoiceSerialNum); the schedule asks about it at next if the callback
// does not come.
func (inv *Invoice) Submitted(serial string, next time.Time) error {
	if err := inv.move(Submitted); err != nil {
		return err
	}
	inv.PlatformSerial, inv.NextCheckAt, inv.Attempts = serial, next, inv.Attempts+1
	return nil
}

// Retry records a transient failure to submit or ask (network, 5xx, no
// answer yet): the status stays and the schedule tries again at next.
func (inv *Invoice) Retry(next time.Time) error {
	if inv.Status != Requested && inv.Status != Submitted && inv.Status != RedRequested {
		return fmt.Errorf("%w: retry in %s", ErrNotAllowed, inv.Status)
	}
	inv.Attempts++
	inv.NextCheckAt = next
	inv.Version++
	return nil
}

// Issue records the platform's invoice: its number and link. A red-letter
// reversal asked for while it was pending (RedPending) is started now.
func (inv *Invoice) Issue(number, pdfURL string, at time.Time) error {
	if number == "" || pdfURL == "" {
		return fmt.Errorf("%w: issued without number or link", ErrInvalid)
	}
	if err := inv.move(Issued); err != nil {
		return err
	}
	inv.Number, inv.PDFURL, inv.IssuedAt, inv.NextCheckAt = number, pdfURL, at, time.Time{}
	if inv.RedPending {
		inv.Status = RedRequested
		inv.NextCheckAt = at
	}
	return nil
}

// Fail records the platform's refusal.
func (inv *Invoice) Fail(reason string) error {
	if err := inv.move(Failed); err != nil {
		return err
	}
	inv.FailReason, inv.NextCheckAt = reason, time.Time{}
	return nil
}

// ClaimEmail claims the sending of the invoice e-mail at now: only an
// issued invoice, not yet e-mailed, not claimed by another sender within
// EmailGrace. The claim makes the invoice due at now+EmailGrace.
func (inv *Invoice) ClaimEmail(now time.Time) error {
	if inv.Emailed {
		return ErrNoChange
	}
	if inv.Status != Issued {
		return fmt.Errorf("%w: e-mail in %s", ErrNotAllowed, inv.Status)
	}
	if !inv.EmailClaimedAt.IsZero() && now.Before(inv.EmailClaimedAt.Add(EmailGrace)) {
		return ErrNoChange // another sender has it
	}
	inv.EmailClaimedAt, inv.NextCheckAt = now, now.Add(EmailGrace)
	inv.Version++
	return nil
}

// EmailSent confirms the claimed e-mail went out.
func (inv *Invoice) EmailSent() error {
	if inv.Emailed {
		return ErrNoChange
	}
	inv.Emailed, inv.EmailClaimedAt = true, time.Time{}
	if inv.Status == Issued {
		inv.NextCheckAt = time.Time{}
	}
	inv.Version++
	return nil
}

// EmailFailed gives the claim back when sending failed, so the next
// callback (the platform retries an unanswered one) sends it; the schedule
// tries too (it stays due).
func (inv *Invoice) EmailFailed() error {
	if inv.Emailed || inv.EmailClaimedAt.IsZero() {
		return ErrNoChange
	}
	inv.EmailClaimedAt = time.Time{}
	inv.Version++
	return nil
}

// RefundOutcome says what a refund did to an invoice.
type RefundOutcome int

const (
	RefundIgnored   RefundOutcome = iota // already handled (same event), or nothing to reverse
	RefundCancelled                      // not yet submitted: cancelled, nothing issued
	RefundDeferred                       // submitted, not yet issued: reversed when it is
	RefundReverse                        // issued: reverse now (RED_REQUESTED)
)

// Refund applies a refund (event id, what the payer keeps after it) to the
// invoice: an issued invoice is reversed in full (keep > 0: re-issued for
// keep once reversed); one not yet submitted is cancelled (re-requested for
// keep by the caller); one at the platform is reversed once issued.
func (inv *Invoice) Refund(eventID string, keepFen int64, now time.Time) (RefundOutcome, error) {
	if inv.RedEventID != "" {
		if inv.RedEventID == eventID {
			return RefundIgnored, ErrNoChange
		}
		// A second refund of the same payment: what is kept only shrinks.
		if keepFen < inv.RedKeepFen {
			inv.RedKeepFen = keepFen
			inv.Version++
			return RefundIgnored, nil
		}
		return RefundIgnored, ErrNoChange
	}
	switch inv.Status {
	case Requested, Failed:
		if err := inv.move(Cancelled); err != nil {
			return RefundIgnored, err
		}
		inv.RedEventID, inv.RedKeepFen, inv.NextCheckAt = eventID, keepFen, time.Time{}
		return RefundCancelled, nil
	case Submitted:
		inv.RedPending, inv.RedEventID, inv.RedKeepFen = true, eventID, keepFen
		inv.Version++
		return RefundDeferred, nil
	case Issued:
		if err := inv.move(RedRequested); err != nil {
			return RefundIgnored, err
		}
		inv.RedEventID, inv.RedKeepFen, inv.NextCheckAt = eventID, keepFen, now
		return RefundReverse, nil
	}
	return RefundIgnored, ErrNoChange
}

// RedSubmitted records the platform's acceptance of the red-letter request.
func (inv *Invoice) RedSubmitted(serial string, next time.Time) error {
	if inv.Status != RedRequested {
		return fmt.Errorf("%w: red submit in %s", ErrNotAllowed, inv.Status)
	}
	if inv.RedSerial == serial {
		return ErrNoChange
	}
	inv.RedSerial, inv.NextCheckAt = serial, next
	inv.Attempts++
	inv.Version++
	return nil
}

// Reverse records the red invoice.
func (inv *Invoice) Reverse(number, pdfURL string, at time.Time) error {
	if err := inv.move(Reversed); err != nil {
		return err
	}
	inv.RedNumber, inv.RedPDFURL, inv.ReversedAt, inv.NextCheckAt = number, pdfURL, at, time.Time{}
	return nil
}

// Due reports whether the schedule has work on it at now.
func (inv Invoice) Due(now time.Time) bool {
	return !inv.NextCheckAt.IsZero() && !inv.NextCheckAt.After(now)
}

// Reissue is the blue invoice (sequence seq) for what the payer kept of
// orig's payment after a partial refund: orig's lines with the same names,
// codes and rates, their amounts scaled to keepFen — each line
// ⌊incl × keep / total⌋, the fen left over by the flooring added to the
// lines in order, one each — and split again (Split), so the new lines add
// up to exactly keepFen. REQUESTED, due now.
func Reissue(orig Invoice, seq int, keepFen int64, now time.Time) (Invoice, error) {
	if keepFen <= 0 || keepFen >= orig.TotalFen || orig.TotalFen <= 0 {
		return Invoice{}, fmt.Errorf("%w: re-issue %d of %d", ErrInvalid, keepFen, orig.TotalFen)
	}
	inv := Invoice{ID: ID(orig.OrderID, seq), OrderID: orig.OrderID, Seq: seq, CompanyID: orig.CompanyID, CommunityID: orig.CommunityID,
		Title: orig.Title, Email: orig.Email, SellerName: orig.SellerName, SellerTaxNo: orig.SellerTaxNo, Replaces: orig.ID,
		Status: Requested, Version: 1, CreatedAt: now, NextCheckAt: now}
	var sum int64
	for _, l := range orig.Lines {
		share := new(big.Int).Mul(big.NewInt(l.InclFen), big.NewInt(keepFen))
		share.Quo(share, big.NewInt(orig.TotalFen))
		inv.Lines = append(inv.Lines, Line{Name: l.Name, TaxCode: l.TaxCode, Rate: l.Rate, FeeItem: l.FeeItem, InclFen: share.Int64()})
		sum += share.Int64()
	}
	for i := 0; sum < keepFen; i = (i + 1) % len(inv.Lines) {
		inv.Lines[i].InclFen++
		sum++
	}
	kept := inv.Lines[:0]
	for _, l := range inv.Lines {
		if l.InclFen == 0 {
			continue
		}
		l.ExclFen, l.TaxFen = Split(l.InclFen, l.Rate)
		inv.TotalFen += l.InclFen
		inv.ExclFen += l.ExclFen
		inv.TaxFen += l.TaxFen
		kept = append(kept, l)
	}
	inv.Lines = kept
	return inv, nil
}
