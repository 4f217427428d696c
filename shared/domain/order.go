package domain

import "fmt"

// OrderStatus is an order's state. Transitions:
//
//	CREATED → PENDING (prepay done) → PAID
//	CREATED|PENDING → CLOSED (expired/closed at the provider)
//	CLOSED → PAID (the provider reports the money arrived after all)
//
// PAID is final. A notification for a CREATED order (paid before we stored the
// prepay result) is also accepted.
type OrderStatus string

const (
	OrderCreated OrderStatus = "CREATED"
	OrderPending OrderStatus = "PENDING"
	OrderPaid    OrderStatus = "PAID"
	OrderClosed  OrderStatus = "CLOSED"
)

// Final reports whether the order takes no more payment attempts.
func (s OrderStatus) Final() bool { return s == OrderPaid || s == OrderClosed }

// CanTransition reports whether from → to is allowed.
func CanTransition(from, to OrderStatus) bool {
	switch to {
	case OrderPending:
		return from == OrderCreated
	case OrderPaid:
		return from == OrderCreated || from == OrderPending || from == OrderClosed
	case OrderClosed:
		return from == OrderCreated || from == OrderPending
	}
	return false
}

// PaymentCheck compares a provider's verified report with our order (C1: the
// money must go to the order's own merchant account and app, in full). It fails
// closed: the order must record who receives the money, the report must say who
// received it, and an empty value on either side never matches.
type PaymentCheck struct {
	OrderAmount, PaidAmount     Fen
	OrderMerchant, PaidMerchant string
	OrderApp, PaidApp           string
}

// Verify returns an error describing the first mismatch.
func (c PaymentCheck) Verify() error {
	switch {
	case c.OrderAmount <= 0 || c.PaidAmount != c.OrderAmount:
		return fmt.Errorf("amount mismatch: order %d fen, paid %d fen", c.OrderAmount, c.PaidAmount)
	case c.OrderMerchant == "" || c.PaidMerchant != c.OrderMerchant:
		return fmt.Errorf("merchant mismatch: order %q, paid %q", c.OrderMerchant, c.PaidMerchant)
	case c.OrderApp == "" || c.PaidApp != c.OrderApp:
		return fmt.Errorf("app mismatch: order %q, paid %q", c.OrderApp, c.PaidApp)
	}
	return nil
}
