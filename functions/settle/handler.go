package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"

	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/calendar"
	"github.com/estatepay/estatepay/shared/domain/order"
	"github.com/estatepay/estatepay/shared/pay"
	"github.com/estatepay/estatepay/shared/pay/alipay"
	"github.com/estatepay/estatepay/shared/pay/wechatpay"
	"github.com/estatepay/estatepay/shared/settlement"
	"github.com/estatepay/estatepay/shared/store"
)

// Directory lists the merchants to settle.
type Directory interface {
	ListCompanies(ctx context.Context) ([]store.Company, error)
	ListInterfaces(ctx context.Context, companyID string) ([]store.Interface, error)
}

// Providers builds an interface's provider adapter.
type Providers interface {
	Provider(ctx context.Context, iface store.Interface) (pay.Provider, error)
}

// Applier applies a provider's verified trade (payments.Service.ApplyTrade).
type Applier interface {
	ApplyTrade(ctx context.Context, iface store.Interface, t pay.Trade) (order.Order, error)
}

// Handler is SettleFunction. Three kinds of invocation (Handle):
//   - the daily schedule ({"job":"plan"}) plans: one SettleQueue message per
//     approved interface × the previous business day (Plan);
//   - SettleQueue's event source mapping hands it those messages, and it
//     settles and reconciles one interface × day per message (HandleSQS);
//   - on demand (an input naming a day, optionally a company and an
//     interface) it settles just those, synchronously, and returns the
//     report (Settle).
type Handler struct {
	Directory  Directory
	Providers  Providers
	Payments   Applier
	Settler    *settlement.Settler
	Reconciler *settlement.Reconciler
	Clock      func() time.Time
	Log        *slog.Logger
	// Metrics receives one CloudWatch Embedded Metric Format line per
	// invocation: SettlementExceptions, the exceptions found for the first
	// time (SettleExceptionsAlarm). nil: none written.
	Metrics io.Writer
	// Notify publishes the new exceptions of each interface and day to FanoutFunction (nil: none).
	Notify ExceptionPublisher
	// ReleaseHolds releases an interface's risk holds whose time is up (分付's
	// 48 h, payments.Fenfu.ReleaseDue) before its day is settled: they join
	// the statement of the day they are released (S3). nil: none.
	ReleaseHolds func(ctx context.Context, ch domain.Channel, merchant string) (int, error)
	// Queue is SettleQueue: where the plan sends its messages, and how a
	// message that stopped or failed is made visible again. nil: planning
	// fails, and failed messages wait for the queue's visibility timeout.
	Queue Queue
	// StopBefore is how long before the Lambda deadline a queued settlement
	// stops (at its last checkpoint) so the message can be handed back
	// (0: DefaultStopBefore).
	StopBefore time.Duration
	// RetryAfter is when a message whose settlement failed is delivered
	// again (0: DefaultRetryAfter).
	RetryAfter time.Duration
	// AfterFunc calls f after d on Clock's time (nil: time.AfterFunc); tests
	// give a fake clock's.
	AfterFunc func(d time.Duration, f func()) (stop func() bool)
}

// JobPlan is the schedule's job: queue the day's settlements.
const JobPlan = "plan"

// Input is the schedule's input ({"job":"plan"}) or an on-demand request:
// {"day","company","interface"} settles now and answers the Report;
// {"job":"plan", …} queues instead (PlanReport).
type Input struct {
	Job       string `json:"job,omitempty"`
	Day       string `json:"day,omitempty"`       // 2006-01-02; default: the previous business day
	Company   string `json:"company,omitempty"`   // default: every company
	Interface string `json:"interface,omitempty"` // default: every approved interface
}

// Line is the outcome for one interface.
type Line struct {
	Company    string                     `json:"company"`
	Interface  string                     `json:"interface"`
	Merchant   string                     `json:"merchant"`
	Channel    domain.Channel             `json:"channel"`
	Statements []settlement.StatementView `json:"statements,omitempty"`
	Matched    int                        `json:"matched"`
	Exceptions int                        `json:"exceptions"`
	New        int                        `json:"new_exceptions"` // found for the first time (the alarm's metric)
	Error      string                     `json:"error,omitempty"`
}

// Report is what one invocation did.
type Report struct {
	Day   calendar.Day `json:"day"`
	Lines []Line       `json:"lines"`
}

// Handle dispatches an invocation: an SQS batch of SettleQueue, the plan,
// or an on-demand settlement.
func (h *Handler) Handle(ctx context.Context, raw json.RawMessage) (any, error) {
	var probe struct {
		Records []json.RawMessage `json:"Records"`
	}
	if len(raw) > 0 && json.Unmarshal(raw, &probe) == nil && len(probe.Records) > 0 {
		var ev lambdaevents.SQSEvent
		if err := json.Unmarshal(raw, &ev); err != nil {
			return nil, fmt.Errorf("settle: SQS event: %w", err)
		}
		return h.HandleSQS(ctx, ev)
	}
	var in Input
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &in); err != nil {
			return nil, fmt.Errorf("settle: input: %w", err)
		}
	}
	if in.Job == JobPlan {
		return h.Plan(ctx, in)
	}
	return h.Settle(ctx, in)
}

// day is the input's day, by default the previous business day.
func (h *Handler) day(in Input) (calendar.Day, error) {
	if in.Day == "" {
		return settlement.PreviousDay(h.Clock()), nil
	}
	d, err := calendar.ParseDay(in.Day)
	if err != nil {
		return "", fmt.Errorf("settle: day %q: %w", in.Day, err)
	}
	return d, nil
}

// eachInterface calls fn with every approved interface the input names (of
// in.Company, or of every company; in.Interface, or all of them).
func (h *Handler) eachInterface(ctx context.Context, in Input, fn func(store.Interface) error) error {
	var companies []string
	if in.Company != "" {
		companies = []string{in.Company}
	} else {
		cs, err := h.Directory.ListCompanies(ctx)
		if err != nil {
			return err
		}
		for _, c := range cs {
			companies = append(companies, c.ID)
		}
	}
	for _, c := range companies {
		ifaces, err := h.Directory.ListInterfaces(ctx, c)
		if err != nil {
			return err
		}
		for _, iface := range ifaces {
			if iface.Status != domain.StatusApproved || (in.Interface != "" && iface.ID != in.Interface) {
				continue
			}
			if err := fn(iface); err != nil {
				return err
			}
		}
	}
	return nil
}

// Settle settles on demand, synchronously. A failure for one interface is
// reported and logged and the others go on; the invocation fails only if
// nothing could be listed, or if any interface failed (so the errors alarm
// fires; settled days re-run to the identical statements).
func (h *Handler) Settle(ctx context.Context, in Input) (Report, error) {
	day, err := h.day(in)
	if err != nil {
		return Report{}, err
	}
	rep := Report{Day: day}
	failed := 0
	err = h.eachInterface(ctx, in, func(iface store.Interface) error {
		line := h.settleOne(ctx, iface, day)
		if line.Error != "" {
			failed++
			h.Log.ErrorContext(ctx, "settle failed", "company", iface.CompanyID, "iface", iface.ID, "day", day, "error", line.Error)
		}
		rep.Lines = append(rep.Lines, line)
		return nil
	})
	if err != nil {
		return rep, err
	}
	fresh := 0
	for _, l := range rep.Lines {
		fresh += l.New
	}
	h.Log.InfoContext(ctx, "settle done", "day", day, "interfaces", len(rep.Lines), "failed", failed, "new_exceptions", fresh)
	if fresh > 0 {
		h.Log.WarnContext(ctx, "settlement exceptions found", "day", day, "new_exceptions", fresh)
	}
	writeExceptionMetric(h.Metrics, fresh, time.Now())
	if failed > 0 {
		return rep, fmt.Errorf("settle: %d of %d interfaces failed", failed, len(rep.Lines))
	}
	return rep, nil
}

// settleOne reconciles the interface's day against the provider's bill
// (repairing payments whose callback never came) and then settles it, so
// repaired payments are on the statement. A bill that cannot be had yet
// (today's, or the provider down) is reported; the day still settles.
func (h *Handler) settleOne(ctx context.Context, iface store.Interface, day calendar.Day) Line {
	req := settlement.Request{CompanyID: iface.CompanyID, Merchant: iface.PaymentMerchant(), Channel: iface.Channel, Day: day}
	line := Line{Company: iface.CompanyID, Interface: iface.ID, Merchant: req.Merchant, Channel: iface.Channel}
	var errs []error
	p, err := h.Providers.Provider(ctx, iface)
	if err == nil {
		var lines []settlement.BillLine
		if lines, err = bill(ctx, p, iface.Channel, day); err == nil {
			rec := *h.Reconciler
			rec.Repair = func(ctx context.Context, o order.Order) (order.Order, error) {
				// A notice order is confirmed with its bills, as callbacks do (ApplyTrade).
				t, err := p.Query(ctx, o.ID)
				if err != nil {
					return order.Order{}, err
				}
				if t.State != pay.TradePaid {
					return order.Order{}, fmt.Errorf("渠道查询状态 %s", t.State)
				}
				return h.Payments.ApplyTrade(ctx, iface, t)
			}
			var r settlement.Report
			if r, err = rec.Reconcile(ctx, req, lines); err == nil {
				line.Matched, line.Exceptions, line.New = r.Matched, len(r.Exceptions), r.New
				errs = append(errs, h.notifyExceptions(ctx, iface, day, r.New))
			}
		}
	}
	if err != nil {
		errs = append(errs, fmt.Errorf("对账: %w", err))
	}
	if h.ReleaseHolds != nil {
		if _, err := h.ReleaseHolds(ctx, iface.Channel, req.Merchant); err != nil {
			errs = append(errs, fmt.Errorf("放行到期的暂缓: %w", err))
		}
	}
	sts, err := h.Settler.Settle(ctx, req)
	if err != nil {
		errs = append(errs, fmt.Errorf("结算: %w", err))
	}
	for _, st := range sts {
		line.Statements = append(line.Statements, settlement.View(st))
	}
	if err := errors.Join(errs...); err != nil {
		line.Error = err.Error()
	}
	return line
}

// bill fetches and parses the provider's trade bill of the day. WeChat's
// NO_STATEMENT_EXIST (no trade that day) is an empty bill.
func bill(ctx context.Context, p pay.Provider, ch domain.Channel, day calendar.Day) ([]settlement.BillLine, error) {
	b, err := p.TradeBill(ctx, day.Start())
	if errors.Is(err, wechatpay.ErrNoStatement) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if ch == domain.WeChat {
		rows, _, err := wechatpay.ParseTradeBill(b)
		if err != nil {
			return nil, err
		}
		return settlement.WeChatLines(rows), nil
	}
	rows, err := alipay.BillDetail(b)
	if err != nil {
		return nil, err
	}
	return settlement.AlipayLines(rows), nil
}

// writeExceptionMetric writes the SettlementExceptions metric as an EMF
// line (namespace estatepay, dimension function).
func writeExceptionMetric(w io.Writer, n int, at time.Time) {
	if w == nil {
		return
	}
	doc := map[string]any{
		"function":             os.Getenv("AWS_LAMBDA_FUNCTION_NAME"),
		"SettlementExceptions": n,
		"_aws": map[string]any{
			"Timestamp": at.UnixMilli(),
			"CloudWatchMetrics": []any{map[string]any{
				"Namespace": "estatepay", "Dimensions": [][]string{{"function"}},
				"Metrics": []map[string]string{{"Name": "SettlementExceptions", "Unit": "Count"}},
			}},
		},
	}
	b, err := json.Marshal(doc)
	if err == nil {
		_, _ = fmt.Fprintln(w, string(b))
	}
}
