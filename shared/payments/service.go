// Package payments is the application layer of scan-to-pay: commands
// (CreateOrder, ConfirmPayment, ApplyTrade, Sweep) and queries (Order) that
// take domain values, load the Order aggregate through the Orders port, let
// it apply its own transition, and store it. It never sends events: every
// stored change is on the table's stream, from which the relay derives them
// (order.Change), so no change can lose its event or get two.
package payments

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/order"
	"github.com/estatepay/estatepay/shared/pay"
	"github.com/estatepay/estatepay/shared/store"
)

// Orders is the order repository port. shared/store.Orders (DynamoDB) and
// shared/store/memory.Orders implement it; shared/store/ordertest is the
// contract suite both pass.
type Orders interface {
	// Create stores a new order once; an existing id returns the stored
	// order and order.ErrExists.
	Create(ctx context.Context, o order.Order) (order.Order, error)
	// Get returns an order or order.ErrNotFound.
	Get(ctx context.Context, id string) (order.Order, error)
	// Update loads the order, applies change (one aggregate transition that
	// bumps the version) and stores it only if nobody changed it meanwhile;
	// change returning an error (order.ErrNoChange included) stores nothing.
	Update(ctx context.Context, id string, change func(*order.Order) error) (order.Order, error)
	// Due lists unpaid orders of work shard i whose next check is before
	// `before`, soonest first.
	Due(ctx context.Context, shard int, before time.Time, limit int32) ([]string, error)
	// WorkShards is the number of work shards.
	WorkShards() int
}

// Directory is the read side of the directory the payments need.
type Directory interface {
	LoadCollection(ctx context.Context, token string) (store.Collection, error)
	LoadCommunity(ctx context.Context, communityID string) (store.Collection, error)
	GetInterface(ctx context.Context, id string) (store.Interface, error)
}

// Providers builds the provider adapter for a payment interface.
type Providers interface {
	Provider(ctx context.Context, iface store.Interface) (pay.Provider, error)
}

// Service is the application service.
type Service struct {
	Orders    Orders
	Directory Directory
	Providers Providers
	Billing   Billing // notices, bills and refunds
	Fenfu     *Fenfu  // 分付 rules (nil: 分付 refused)
	Log       *slog.Logger
	Now       func() time.Time

	PublicBaseURL string        // for notify and return URLs
	MaxAmountFen  int64         // deployment default for C4
	OrderTTL      time.Duration // time_expire; default 10 minutes
	SweepAfter    time.Duration // first provider check of an unpaid order, and the interval after; default 2 minutes
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Service) orderTTL() time.Duration {
	if s.OrderTTL > 0 {
		return s.OrderTTL
	}
	return 10 * time.Minute
}

func (s *Service) sweepAfter() time.Duration {
	if s.SweepAfter > 0 {
		return s.SweepAfter
	}
	return 2 * time.Minute
}

// Errors the functions map to responses.
var (
	ErrUnknownCode = errors.New("unknown or revoked code")
	// ErrCodeExpired: a manager's code replaced by a refresh more than
	// managercode.Grace ago (此收款码已失效).
	ErrCodeExpired        = errors.New("code replaced by a refresh and expired")
	ErrChannelUnavailable = errors.New(domain.MsgNotOpen)
	ErrUnknownOrder       = errors.New("unknown order")
	ErrMismatch           = errors.New("payment does not match the order")
	// ErrOrderExpired: the order (named by its idempotency key) can no longer
	// be paid; the client must start again with a new key.
	ErrOrderExpired = errors.New("order expired")
	// ErrIdempotencyConflict: the idempotency key was used with another request.
	ErrIdempotencyConflict = errors.New("idempotency key reused with a different request")
	// ErrPayerMismatch: the payer identity was issued for another WeChat app or
	// interface than the code's; the page must redo the WeChat authorisation.
	ErrPayerMismatch = errors.New("payer identity not issued for this code's WeChat app")
)

// InvalidError is a client input error with a user-facing message.
type InvalidError struct{ Msg string }

func (e *InvalidError) Error() string { return e.Msg }

func invalid(msg string) error { return &InvalidError{Msg: msg} }

// Order is the query behind the status route and the result page.
func (s *Service) Order(ctx context.Context, id string) (order.Order, error) {
	o, err := s.Orders.Get(ctx, id)
	if errors.Is(err, order.ErrNotFound) {
		return o, ErrUnknownOrder
	}
	return o, err
}
