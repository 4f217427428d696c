// Package payments is the application service behind the functions: it creates
// orders idempotently and prepays them at the provider (C4), confirms verified
// provider reports exactly once (C1), emits payment events, and sweeps orders
// whose callbacks are late or missing.
package payments

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/events"
	"github.com/estatepay/estatepay/shared/pay"
	"github.com/estatepay/estatepay/shared/store"
)

// Providers builds the provider adapter for a payment interface.
type Providers interface {
	Provider(ctx context.Context, iface store.Interface) (pay.Provider, error)
}

// Service wires the store, the providers and the event publisher.
type Service struct {
	Store     *store.Store
	Providers Providers
	Events    events.Publisher
	Log       *slog.Logger
	Now       func() time.Time

	PublicBaseURL string        // for notify and return URLs
	MaxAmountFen  int64         // deployment default for C4
	OrderTTL      time.Duration // time_expire; default 10 minutes
	EventLease    time.Duration // how long one delivery owns sending an event; default 30s
	SweepAfter    time.Duration // orders untouched this long are swept; default 2 minutes
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

func (s *Service) eventLease() time.Duration {
	if s.EventLease > 0 {
		return s.EventLease
	}
	return 30 * time.Second
}

// Errors the functions map to responses.
var (
	ErrUnknownCode        = errors.New("unknown or revoked code")
	ErrChannelUnavailable = errors.New(domain.MsgNotOpen)
	ErrUnknownOrder       = errors.New("unknown order")
	ErrMismatch           = errors.New("payment does not match the order")
	ErrInProgress         = errors.New("payment event is being sent by another delivery; retry later")
)

// InvalidError is a client input error with a user-facing message.
type InvalidError struct{ Msg string }

func (e *InvalidError) Error() string { return e.Msg }

func invalid(msg string) error { return &InvalidError{Msg: msg} }
