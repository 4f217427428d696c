// Package settlement is the application of T+1 settlement (S1, F3): it
// settles one merchant × channel × business day by reading the day's
// payments through the OrdersTable's settle index, shard by shard and page
// by page (never a Scan), merged into payment-time order so the 分付 fee
// tiers are crossed at the exact payment, then the refunds that succeeded
// that day (their own partitions of the same index), in constant memory,
// checkpointing after every step (settlement.Run) so a run cut off resumes
// where it stopped and concurrent runs end at the same statements.
package settlement

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/calendar"
	"github.com/estatepay/estatepay/shared/domain/order"
	"github.com/estatepay/estatepay/shared/domain/refund"
	dsettle "github.com/estatepay/estatepay/shared/domain/settlement"
	"github.com/estatepay/estatepay/shared/store"
)

// OrderReader reads a settle index partition after a sort key
// (store.Orders.SettledAfter).
type OrderReader interface {
	SettledAfter(ctx context.Context, partition, after string, limit int32) ([]order.Order, bool, error)
}

// RefundReader reads a refund partition of the settle index after a sort
// key (store.Orders.RefundsSettledAfter).
type RefundReader interface {
	RefundsSettledAfter(ctx context.Context, partition, after string, limit int32) ([]refund.Refund, bool, error)
}

// Repo is where runs and statements are kept (store.Settlements).
type Repo interface {
	Run(ctx context.Context, k dsettle.Key) (dsettle.Run, error)
	SaveRun(ctx context.Context, r *dsettle.Run) error
	FinishRun(ctx context.Context, r *dsettle.Run) error
	MonthToDate(ctx context.Context, k dsettle.Key) (int64, error)
}

// Settler settles days.
type Settler struct {
	Orders OrderReader
	// Refunds reads the refunds that succeeded on the day; nil: Orders, if
	// it reads refunds too (store.Orders does). With neither, statements
	// count no refunds.
	Refunds  RefundReader
	Repo     Repo
	Schedule dsettle.Schedule
	// PageSize is how many orders a step reads from each shard (0: 200).
	PageSize int32
	// Holds lists a merchant's holds (S3; store.Settlements.Holds); nil
	// holds nothing.
	Holds func(ctx context.Context, ch domain.Channel, merchant string) ([]dsettle.Hold, error)
}

// Request names one merchant × channel × day to settle.
type Request struct {
	CompanyID string
	Merchant  string
	Channel   domain.Channel
	Day       calendar.Day
}

// Settle settles the day and returns its statements, one per payment
// method (at least the ordinary one, zero on a day without payments). A
// day already settled is settled again from the start: the same payments
// and refunds give the identical statements. If ctx ends midway, the
// checkpoint of the last step stands and the next Settle resumes from it.
//
// The holds a step counts are read after the run is stored: a hold placed
// before the run existed is seen (store.Settlements.PlaceHold refuses one
// of a past day once its run exists).
func (s *Settler) Settle(ctx context.Context, req Request) ([]dsettle.Statement, error) {
	if req.Merchant == "" || req.Channel == "" {
		return nil, errors.New("settlement: a merchant and a channel are required")
	}
	if _, err := calendar.ParseDay(string(req.Day)); err != nil {
		return nil, fmt.Errorf("settlement: day %q: %w", req.Day, err)
	}
	key := dsettle.Key{Merchant: req.Merchant, Channel: req.Channel, Day: req.Day}
	var holds map[string]dsettle.Hold
	restarted := false
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		run, err := s.Repo.Run(ctx, key)
		switch {
		case errors.Is(err, store.ErrNotFound):
			run = dsettle.Run{Key: key}
			fallthrough
		case err == nil && run.Done && !restarted:
			// A new generation from the start of the day.
			restarted = true
			released, err := s.holds(ctx, req)
			if err != nil {
				return nil, err
			}
			fresh, err := s.begin(ctx, req, run, released)
			if err != nil {
				return nil, err
			}
			if err := s.Repo.SaveRun(ctx, &fresh); errors.Is(err, store.ErrSettleConflict) {
				continue // someone else began or advanced it: join in
			} else if err != nil {
				return nil, err
			}
			run = fresh
		case err != nil:
			return nil, err
		}
		if run.Done {
			return statements(run), nil
		}
		restarted = true // joining a pass in progress counts as this call's pass
		if holds == nil {
			if holds, err = s.holds(ctx, req); err != nil {
				return nil, err
			}
		}
		if err := s.step(ctx, &run, holds); errors.Is(err, store.ErrSettleConflict) {
			continue
		} else if err != nil {
			return nil, err
		}
	}
}

// holds are the merchant's holds by order id (never nil).
func (s *Settler) holds(ctx context.Context, req Request) (map[string]dsettle.Hold, error) {
	out := map[string]dsettle.Hold{}
	if s.Holds == nil {
		return out, nil
	}
	hs, err := s.Holds(ctx, req.Channel, req.Merchant)
	if err != nil {
		return nil, err
	}
	for _, h := range hs {
		out[h.OrderID] = h
	}
	return out, nil
}

func (s *Settler) refundReader() RefundReader {
	if s.Refunds != nil {
		return s.Refunds
	}
	r, _ := s.Orders.(RefundReader)
	return r
}

// begin is a run at the start of the day: the ordinary statement at zero,
// every method's month-to-date volume from the month's earlier statements,
// and the holds of earlier days released on this day.
func (s *Settler) begin(ctx context.Context, req Request, prev dsettle.Run, holds map[string]dsettle.Hold) (dsettle.Run, error) {
	r := dsettle.Run{Key: prev.Key, CompanyID: req.CompanyID, Generation: prev.Generation + 1, Version: prev.Version,
		Statements: map[string]dsettle.Statement{}}
	st, err := s.newStatement(ctx, r, "")
	if err != nil {
		return r, err
	}
	r.Statements[""] = st
	ids := make([]string, 0, len(holds))
	for id := range holds {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		h := holds[id]
		if !h.ReleasedOn(req.Day) {
			continue
		}
		st, ok := r.Statements[h.Method]
		if !ok {
			if st, err = s.newStatement(ctx, r, h.Method); err != nil {
				return r, err
			}
		}
		st.AddReleased(h)
		r.Statements[h.Method] = st
	}
	return r, nil
}

func (s *Settler) newStatement(ctx context.Context, r dsettle.Run, method string) (dsettle.Statement, error) {
	k := r.Key
	k.Method = method
	st := dsettle.Statement{Key: k, CompanyID: r.CompanyID}
	if _, err := s.Schedule.PlanFor(k.Merchant, k.Channel, method); err != nil {
		return st, err
	}
	// Tiered plans count from it; every statement shows it (the month so far).
	var err error
	st.MonthToDateFen, err = s.Repo.MonthToDate(ctx, k)
	return st, err
}

// mergeStep reads one page (at most limit) of each of the day's
// SettleShards partitions after the sort key `after` and returns, in sort
// key order, what can be counted now: everything read when no partition has
// more (finished), else what sorts up to the horizon — the smallest last
// key among partitions with more, beyond which another partition's next
// page may hold earlier items. Memory: one page per partition.
func mergeStep[T any](read func(shard int) ([]T, bool, error), key func(T) string) (batch []T, finished bool, err error) {
	type page struct {
		items []T
		more  bool
	}
	pages := make([]page, store.SettleShards)
	horizon := ""
	finished = true
	for i := range pages {
		items, more, err := read(i)
		if err != nil {
			return nil, false, err
		}
		pages[i] = page{items, more && len(items) > 0}
		if pages[i].more {
			finished = false
			if last := key(items[len(items)-1]); horizon == "" || last < horizon {
				horizon = last
			}
		}
	}
	// Each item's key is rendered once (rendering them inside the sort's
	// comparisons took a third of a million-order run).
	type keyed struct {
		key  string
		item T
	}
	var ks []keyed
	for _, p := range pages {
		for _, it := range p.items {
			if k := key(it); finished || k <= horizon {
				ks = append(ks, keyed{k, it})
			}
		}
	}
	sort.Slice(ks, func(i, j int) bool { return ks[i].key < ks[j].key })
	batch = make([]T, len(ks))
	for i, k := range ks {
		batch[i] = k.item
	}
	return batch, finished, nil
}

func (s *Settler) limit() int32 {
	if s.PageSize <= 0 {
		return 200
	}
	return s.PageSize
}

// step reads one page of every shard after the checkpoint, counts the
// payments up to the horizon, and when the payments are done, the refunds
// of the day in the same way; it writes the checkpoint, and on the last step
// finishes the run.
func (s *Settler) step(ctx context.Context, run *dsettle.Run, holds map[string]dsettle.Hold) error {
	k := run.Key
	if !run.PaymentsDone {
		batch, finished, err := mergeStep(func(shard int) ([]order.Order, bool, error) {
			return s.Orders.SettledAfter(ctx, store.SettlePartition(k.Channel, k.Merchant, k.Day, shard), run.After, s.limit())
		}, sortKey)
		if err != nil {
			return err
		}
		for _, o := range batch {
			if !dsettle.Settlable(o) || o.BusinessDay != k.Day {
				continue
			}
			st, err := s.statement(ctx, run, o.Method)
			if err != nil {
				return err
			}
			plan, err := s.Schedule.PlanFor(k.Merchant, k.Channel, o.Method)
			if err != nil {
				return err
			}
			h, held := holds[o.ID]
			st.Add(o, plan, held && h.Held())
			run.Statements[o.Method] = st
		}
		if len(batch) > 0 {
			run.After = sortKey(batch[len(batch)-1])
		}
		if !finished {
			return s.Repo.SaveRun(ctx, run)
		}
		run.PaymentsDone = true // and on to the refunds in this same step
	}
	finished := true
	if rr := s.refundReader(); rr != nil {
		var batch []refund.Refund
		var err error
		batch, finished, err = mergeStep(func(shard int) ([]refund.Refund, bool, error) {
			return rr.RefundsSettledAfter(ctx, store.SettleRefundPartition(k.Channel, k.Merchant, k.Day, shard), run.RefundsAfter, s.limit())
		}, refundKey)
		if err != nil {
			return err
		}
		for _, rf := range batch {
			if day, ok := rf.SettleDay(); !ok || day != k.Day {
				continue
			}
			st, err := s.statement(ctx, run, rf.Method)
			if err != nil {
				return err
			}
			st.AddRefund(rf.AmountFen)
			run.Statements[rf.Method] = st
		}
		if len(batch) > 0 {
			run.RefundsAfter = refundKey(batch[len(batch)-1])
		}
	}
	if finished {
		return s.Repo.FinishRun(ctx, run)
	}
	return s.Repo.SaveRun(ctx, run)
}

// statement is the run's statement of a method so far (a new one if none).
func (s *Settler) statement(ctx context.Context, run *dsettle.Run, method string) (dsettle.Statement, error) {
	if st, ok := run.Statements[method]; ok {
		return st, nil
	}
	return s.newStatement(ctx, *run, method)
}

func refundKey(rf refund.Refund) string { return store.SettleSortKey(rf.SucceededAt, rf.ID) }

func sortKey(o order.Order) string { return store.SettleSortKey(o.PaidAt, o.ID) }

func statements(r dsettle.Run) []dsettle.Statement {
	out := make([]dsettle.Statement, 0, len(r.Statements))
	for _, st := range r.Statements {
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Method < out[j].Method })
	return out
}

// PreviousDay is the business day before the one `now` falls in: the day
// the daily run settles.
func PreviousDay(now time.Time) calendar.Day { return calendar.BusinessDay(now).Prev() }

// StatementView is a statement as programs read it (fen, snake_case).
type StatementView struct {
	Merchant       string `json:"merchant"`
	Channel        string `json:"channel"`
	Method         string `json:"method"`
	Day            string `json:"day"`
	Count          int64  `json:"count"`
	GrossFen       int64  `json:"gross_fen"`
	RefundCount    int64  `json:"refund_count"`
	RefundFen      int64  `json:"refund_fen"`
	FeeFen         int64  `json:"fee_fen"`
	HeldCount      int64  `json:"held_count"`
	HeldFen        int64  `json:"held_fen"`
	ReleasedCount  int64  `json:"released_count"`
	ReleasedFen    int64  `json:"released_fen"`
	NetFen         int64  `json:"net_fen"`
	MonthToDateFen int64  `json:"month_to_date_fen"`
}

// View is st for programs.
func View(st dsettle.Statement) StatementView {
	return StatementView{Merchant: st.Merchant, Channel: string(st.Channel), Method: st.Method, Day: string(st.Day), Count: st.Count,
		GrossFen: st.GrossFen, RefundCount: st.RefundCount, RefundFen: st.RefundFen, FeeFen: st.FeeFen, HeldCount: st.HeldCount,
		HeldFen: st.HeldFen, ReleasedCount: st.ReleasedCount, ReleasedFen: st.ReleasedFen, NetFen: st.NetFen, MonthToDateFen: st.MonthToDateFen}
}
