// Package invoicing is the e-invoice application layer (issue 13): a
// resident's request from a receipt (Request), the schedule that submits and
// asks again (Sweep) — a new request is submitted at once from the
// table's stream (SubmitNew) —, the platform's results (Apply: callbacks and query
// answers, the e-mail sent once), and red-letter reversal on refunds
// (Refund). The aggregate is shared/domain/invoice, the repository
// store.Invoices, the platform the einvoice.Platform port.
package invoicing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/invoice"
	"github.com/estatepay/estatepay/shared/domain/order"
	"github.com/estatepay/estatepay/shared/einvoice"
	"github.com/estatepay/estatepay/shared/notify"
	"github.com/estatepay/estatepay/shared/store"
)

// Orders reads orders (store.Orders).
type Orders interface {
	Get(ctx context.Context, id string) (order.Order, error)
}

// Service is the application.
type Service struct {
	Invoices    *store.Invoices
	Orders      Orders
	Platform    einvoice.Platform // nil where only requests are taken (LandingFunction)
	Email       notify.Email
	CallbackURL string // POST /notify/einvoice, absolute
	Now         func() time.Time
	Log         *slog.Logger
}

// Timings.
const (
	// CheckAfter is when a submitted invoice (or red request) whose callback
	// has not come is asked about.
	CheckAfter = 10 * time.Minute
	// SweepBatch is how many due invoices one Query reads, SweepBatches how
	// many batches one run handles at most, SweepMargin the time it leaves
	// before the Lambda deadline.
	SweepBatch   = 50
	SweepBatches = 20
	SweepMargin  = 5 * time.Second
)

// Backoff is the wait before submission attempt n+1 after a transient failure.
func Backoff(attempts int) time.Duration {
	d := time.Minute << min(attempts, 6) // 1, 2, 4 … 64 minutes
	return d
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Errors of Request (the pages say them in Chinese).
var (
	ErrNotPaid  = errors.New("invoicing: the order is not paid")
	ErrRefunded = errors.New("invoicing: the order was refunded")
)

// Offer says whether the receipt of o offers 申请开票: the company invoices,
// for free amounts too when o is one, and o is paid and not refunded.
func (s *Service) Offer(ctx context.Context, o order.Order) (bool, error) {
	if o.Status != order.Paid || o.RefundFen > 0 || o.RefundedFen > 0 || o.BillsRefused {
		return false, nil
	}
	set, err := s.Invoices.InvoiceSettings(ctx, o.CompanyID)
	if err != nil {
		return false, err
	}
	return set.Enabled && (o.NoticeID != "" || set.AllowFreeAmount), nil
}

// Request creates the first invoice of o (paid) for parts (a notice
// payment's bills by fee item; a free amount: one part, FeeItem ""): ONE
// conditional write. If o already has one (a retry, or a second, different
// request), that one is returned and created is false.
func (s *Service) Request(ctx context.Context, o order.Order, parts []invoice.Part, title invoice.Title, email string) (inv invoice.Invoice, created bool, err error) {
	if existing, err := s.Invoices.Get(ctx, o.ID, 1); err == nil {
		return existing, false, nil
	} else if !errors.Is(err, invoice.ErrNotFound) {
		return invoice.Invoice{}, false, err
	}
	if o.Status != order.Paid {
		return invoice.Invoice{}, false, ErrNotPaid
	}
	if o.RefundFen > 0 || o.RefundedFen > 0 || o.BillsRefused {
		return invoice.Invoice{}, false, ErrRefunded
	}
	set, err := s.Invoices.InvoiceSettings(ctx, o.CompanyID)
	if err != nil {
		return invoice.Invoice{}, false, err
	}
	var sum int64
	for _, p := range parts {
		sum += p.Fen
	}
	if sum != o.AmountFen {
		// The bills no longer add up to the payment (edited since): invoice
		// what was paid as one default line rather than a wrong total.
		parts = []invoice.Part{{Fen: o.AmountFen}}
	}
	inv, err = invoice.New(invoice.Request{OrderID: o.ID, CompanyID: o.CompanyID, CommunityID: o.CommunityID, Seq: 1,
		Title: title, Email: email, Parts: parts, FreeAmount: o.NoticeID == ""}, set, s.now())
	if err != nil {
		return invoice.Invoice{}, false, err
	}
	stored, err := s.Invoices.Create(ctx, inv)
	if errors.Is(err, invoice.ErrExists) {
		return stored, false, nil
	}
	if err != nil {
		return invoice.Invoice{}, false, err
	}
	s.Log.InfoContext(ctx, "invoice requested", "invoice_id", inv.ID, "total_fen", inv.TotalFen)
	return stored, true, nil
}

// Sweep handles the invoices due now (the schedule): submits new ones, asks
// about those whose callback is late, submits red-letter requests — batch
// after batch while there are more and the invocation has time (it stops
// SweepMargin before the context's deadline; the next run goes on). It
// returns how many it handled; errors of single invoices are logged and
// leave them due (each failure pushes its next check back).
func (s *Service) Sweep(ctx context.Context) (int, error) {
	n := 0
	for range SweepBatches {
		due, err := s.Invoices.Due(ctx, s.now(), SweepBatch)
		if err != nil {
			return n, err
		}
		for _, inv := range due {
			if dl, ok := ctx.Deadline(); ok && time.Until(dl) < SweepMargin {
				return n, nil
			}
			if err := s.Work(ctx, inv); err != nil {
				s.Log.WarnContext(ctx, "invoice work failed", "invoice_id", inv.ID, "status", inv.Status, "err", err)
			}
			n++
		}
		if len(due) < SweepBatch {
			break
		}
	}
	return n, nil
}

// SubmitNew is the immediate path of a new request (InvoicesTable's
// stream, InvoiceFunction): it reads the invoice and, if it is still a
// request nobody has tried — REQUESTED, no attempt recorded — submits it
// as the schedule would (Work). Anything else is left as it is: submitted
// by a concurrent schedule run, cancelled by a refund, or a failed attempt
// waiting for its backoff (the schedule's, so a stream retry never hurries
// it). The platform deduplicates by our orderNo and the submitted write is
// conditional, so a race with the schedule submits once. It reports
// whether it called the platform; an error of Work means the attempt is
// recorded (backoff or FAILED) unless the store failed too.
func (s *Service) SubmitNew(ctx context.Context, orderID string, seq int) (bool, error) {
	inv, err := s.Invoices.Get(ctx, orderID, seq)
	if errors.Is(err, invoice.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if inv.Status != invoice.Requested || inv.Attempts > 0 {
		return false, nil
	}
	return true, s.Work(ctx, inv)
}

func (s *Service) update(ctx context.Context, inv invoice.Invoice, change func(*invoice.Invoice) error) (invoice.Invoice, error) {
	return s.Invoices.Update(ctx, inv.OrderID, inv.Seq, change)
}

// Work does what inv is due for.
func (s *Service) Work(ctx context.Context, inv invoice.Invoice) error {
	now := s.now()
	switch inv.Status {
	case invoice.Requested:
		serial, err := s.Platform.Issue(ctx, issueRequest(inv, s.CallbackURL, now))
		switch {
		case errors.Is(err, einvoice.ErrRefused):
			_, uerr := s.update(ctx, inv, func(i *invoice.Invoice) error { return i.Fail(err.Error()) })
			return uerr
		case err != nil:
			_, uerr := s.update(ctx, inv, func(i *invoice.Invoice) error { return i.Retry(now.Add(Backoff(i.Attempts))) })
			return errors.Join(err, uerr)
		}
		_, err = s.update(ctx, inv, func(i *invoice.Invoice) error { return i.Submitted(serial, now.Add(CheckAfter)) })
		return ignoreNoChange(err)
	case invoice.Submitted:
		return s.ask(ctx, inv, inv.PlatformSerial)
	case invoice.Issued:
		// Due only while its e-mail is claimed and unconfirmed, or failed.
		return s.emailOnce(ctx, inv)
	case invoice.RedRequested:
		if inv.RedSerial != "" {
			return s.ask(ctx, inv, inv.RedSerial)
		}
		serial, err := s.Platform.Red(ctx, einvoice.RedRequest{OrderNo: RedOrderNo(inv.ID), SellerTaxNo: inv.SellerTaxNo, BlueSerial: inv.PlatformSerial,
			BlueNumber: inv.Number, Reason: "销货退回", CallbackURL: s.CallbackURL, At: now})
		if err != nil {
			_, uerr := s.update(ctx, inv, func(i *invoice.Invoice) error { return i.Retry(now.Add(Backoff(i.Attempts))) })
			return errors.Join(err, uerr)
		}
		_, err = s.update(ctx, inv, func(i *invoice.Invoice) error { return i.RedSubmitted(serial, now.Add(CheckAfter)) })
		return ignoreNoChange(err)
	}
	return nil
}

func (s *Service) ask(ctx context.Context, inv invoice.Invoice, serial string) error {
	now := s.now()
	res, err := s.Platform.Query(ctx, []string{serial})
	if err == nil {
		for _, r := range res {
			if r.Serial == serial && r.State != einvoice.Issuing {
				return s.Apply(ctx, r)
			}
		}
	}
	_, uerr := s.update(ctx, inv, func(i *invoice.Invoice) error { return i.Retry(now.Add(CheckAfter)) })
	return errors.Join(err, uerr)
}

func ignoreNoChange(err error) error {
	if errors.Is(err, invoice.ErrNoChange) {
		return nil
	}
	return err
}

// RedOrderNo is our orderNo of an invoice's red-letter reversal.
func RedOrderNo(invoiceID string) string { return invoiceID + "R" }

func issueRequest(inv invoice.Invoice, callback string, now time.Time) einvoice.IssueRequest {
	r := einvoice.IssueRequest{OrderNo: inv.ID, SellerName: inv.SellerName, SellerTaxNo: inv.SellerTaxNo, BuyerName: inv.Title.Name,
		BuyerTaxNo: inv.Title.TaxNo, Email: inv.Email, CallbackURL: callback, At: now}
	for _, l := range inv.Lines {
		r.Lines = append(r.Lines, einvoice.Line{Name: l.Name, TaxCode: l.TaxCode, RateBP: int64(l.Rate), InclFen: l.InclFen, ExclFen: l.ExclFen, TaxFen: l.TaxFen})
	}
	return r
}

// Apply records a platform result (a verified callback, or a query answer):
// a blue invoice issued (then e-mailed, once) or failed; a red one issued
// (the blue reversed; a partial refund's re-issue created). Duplicates
// change nothing and send nothing.
func (s *Service) Apply(ctx context.Context, r einvoice.Result) error {
	now := s.now()
	id, red := r.OrderNo, false
	if strings.HasSuffix(id, "R") {
		id, red = strings.TrimSuffix(id, "R"), true
	}
	orderID, seq, ok := store.SplitInvoiceID(id)
	if !ok {
		return fmt.Errorf("invoicing: result for unknown orderNo %q", r.OrderNo)
	}
	if red != r.Red && r.State == einvoice.Issued {
		return fmt.Errorf("invoicing: orderNo %q and invoice type disagree", r.OrderNo)
	}
	var change func(*invoice.Invoice) error
	switch {
	case r.State == einvoice.Issuing:
		return nil
	case !red && r.State == einvoice.Issued:
		change = func(i *invoice.Invoice) error {
			if i.PlatformSerial != "" && r.Serial != "" && i.PlatformSerial != r.Serial {
				return fmt.Errorf("%w: serial %s is not ours (%s)", invoice.ErrInvalid, r.Serial, i.PlatformSerial)
			}
			return i.Issue(r.Number, r.PDFURL, now)
		}
	case !red:
		change = func(i *invoice.Invoice) error { return i.Fail(r.Message) }
	case r.State == einvoice.Issued:
		change = func(i *invoice.Invoice) error {
			if i.RedSerial != "" && r.Serial != "" && i.RedSerial != r.Serial {
				return fmt.Errorf("%w: red serial %s is not ours (%s)", invoice.ErrInvalid, r.Serial, i.RedSerial)
			}
			return i.Reverse(r.Number, r.PDFURL, now)
		}
	default:
		// The red request failed: try again later (it stays RED_REQUESTED).
		change = func(i *invoice.Invoice) error {
			i.RedSerial = ""
			return i.Retry(now.Add(CheckAfter))
		}
	}
	inv, err := s.Invoices.Update(ctx, orderID, seq, change)
	if err != nil && !errors.Is(err, invoice.ErrNoChange) {
		return err
	}
	if err == nil {
		s.Log.InfoContext(ctx, "invoice result", "invoice_id", inv.ID, "status", inv.Status, "red", red)
	}
	switch inv.Status {
	case invoice.Issued:
		return s.emailOnce(ctx, inv)
	case invoice.RedRequested:
		if inv.RedSerial == "" && s.Platform != nil { // issued while a refund waited: reverse now
			return s.Work(ctx, inv)
		}
	case invoice.Reversed:
		return s.reissue(ctx, inv)
	}
	return nil
}

// emailOnce sends the invoice e-mail once: the claim is a conditional
// write; only its winner sends, confirms (EmailSent) and gives the claim back
// if SES fails (the platform calls back again, the schedule tries again). A
// claim never confirmed (the sender died) is due after invoice.EmailGrace
// and the schedule sends it: never lost.
func (s *Service) emailOnce(ctx context.Context, inv invoice.Invoice) error {
	if inv.Emailed || s.Email == nil {
		return nil
	}
	claimed, err := s.update(ctx, inv, func(i *invoice.Invoice) error { return i.ClaimEmail(s.now()) })
	if errors.Is(err, invoice.ErrNoChange) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := s.Email.SendEmail(ctx, Email(claimed)); err != nil {
		_, uerr := s.update(ctx, claimed, func(i *invoice.Invoice) error { return i.EmailFailed() })
		return errors.Join(fmt.Errorf("invoice e-mail: %w", err), ignoreNoChange(uerr))
	}
	if _, err := s.update(ctx, claimed, func(i *invoice.Invoice) error { return i.EmailSent() }); ignoreNoChange(err) != nil {
		return err
	}
	s.Log.InfoContext(ctx, "invoice e-mailed", "invoice_id", inv.ID)
	return nil
}

// Email is the message an issued invoice is sent as.
func Email(inv invoice.Invoice) notify.EmailMessage {
	subject := fmt.Sprintf("【电子发票】%s 开具的发票 %s", inv.SellerName, inv.Number)
	text := fmt.Sprintf("您好！\n\n%s 已为您开具电子发票（数电票）：\n\n发票号码：%s\n购买方：%s\n价税合计：¥%s（不含税 ¥%s，税额 ¥%s）\n\n下载发票（PDF）：%s\n\n此邮件由系统自动发送，请勿回复。\n",
		inv.SellerName, inv.Number, inv.Title.Name, domain.FormatYuan(inv.TotalFen), domain.FormatYuan(inv.ExclFen), domain.FormatYuan(inv.TaxFen), inv.PDFURL)
	return notify.EmailMessage{To: inv.Email, Subject: subject, Text: text}
}

// reissue creates the blue invoice for what the payer kept after a partial
// refund, once the original is reversed (one conditional write: the next
// sequence, so a repeated result creates nothing).
func (s *Service) reissue(ctx context.Context, inv invoice.Invoice) error {
	if inv.RedKeepFen <= 0 {
		return nil
	}
	re, err := invoice.Reissue(inv, inv.Seq+1, inv.RedKeepFen, s.now())
	if err != nil {
		return err
	}
	_, err = s.Invoices.Create(ctx, re)
	if errors.Is(err, invoice.ErrExists) {
		return nil
	}
	return err
}

// Refund applies a refund event (refund.succeeded, order.refunded) to the
// order's current invoice: issued → reversed in full (and re-issued for
// what was kept, once reversed); not yet submitted → cancelled (and
// re-requested for what was kept); at the platform → reversed once issued.
// Idempotent by event id.
func (s *Service) Refund(ctx context.Context, e order.Event) error {
	list, err := s.Invoices.OfOrder(ctx, e.OrderID)
	if err != nil || len(list) == 0 {
		return err
	}
	for _, inv := range list {
		if inv.RedEventID == e.ID {
			return nil
		}
	}
	var cur *invoice.Invoice
	for i := len(list) - 1; i >= 0; i-- {
		if list[i].Status != invoice.Cancelled && list[i].Status != invoice.Reversed {
			cur = &list[i]
			break
		}
	}
	if cur == nil {
		return nil
	}
	o, err := s.Orders.Get(ctx, e.OrderID)
	if err != nil {
		return err
	}
	keep := o.AmountFen - o.RefundedFen
	if o.Status == order.Refunded || keep < 0 {
		keep = 0
	}
	if keep > cur.TotalFen {
		keep = cur.TotalFen
	}
	if keep == cur.TotalFen {
		return nil // nothing of this invoice's amount went back
	}
	now := s.now()
	var outcome invoice.RefundOutcome
	updated, err := s.update(ctx, *cur, func(i *invoice.Invoice) error {
		var err error
		outcome, err = i.Refund(e.ID, keep, now)
		return err
	})
	if errors.Is(err, invoice.ErrNoChange) {
		return nil
	}
	if err != nil {
		return err
	}
	s.Log.InfoContext(ctx, "invoice refund", "invoice_id", updated.ID, "event_id", e.ID, "outcome", int(outcome), "keep_fen", keep)
	switch outcome {
	case invoice.RefundCancelled:
		if keep > 0 {
			return s.reissue(ctx, updated)
		}
	case invoice.RefundReverse:
		if s.Platform != nil {
			if err := s.Work(ctx, updated); err != nil {
				s.Log.WarnContext(ctx, "red-letter submit failed; the schedule retries", "invoice_id", updated.ID, "err", err)
			}
		}
	}
	return nil
}
