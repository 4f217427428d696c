package store

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/calendar"
	"github.com/estatepay/estatepay/shared/domain/order"
	"github.com/estatepay/estatepay/shared/domain/settlement"
)

// Settlements is the settlement store. Its items live in the StatsTable
// (pk, sk strings) beside the dashboard's aggregates, under prefixes of
// their own:
//
//   - a run (checkpoint) per merchant × channel × day:
//     pk SRUN#<channel>#<merchant>#<day>, sk RUN (settlement.Run);
//   - a statement per merchant × channel × method × day:
//     pk STMT#<merchant>#<yyyy-mm>, sk <day>#<channel>#<method>, so a
//     merchant's month is one Query and the month-to-date volume the fee
//     tiers count from is the month's earlier days;
//   - an exception: pk SEXC#<companyId>, sk <day>#<exception id>
//     (settlement.Exception), so a company's exceptions are one Query;
//   - a hold: pk SHOLD#<channel>#<merchant>, sk <order id>
//     (settlement.Hold), so a merchant's holds are one Query.
//
// Every write is conditional: runs on their version, the statements in the
// same transaction that finishes a run, exceptions created once
// (attribute_not_exists) and resolved on their version and status.
type Settlements struct {
	DB    *dynamodb.Client
	Table string // StatsTable name
}

// ErrSettleConflict is a write that lost to a concurrent one: reload and go on.
var ErrSettleConflict = errors.New("store: settlement changed concurrently")

func runPK(k settlement.Key) string {
	return "SRUN#" + string(k.Channel) + "#" + k.Merchant + "#" + string(k.Day)
}

func stmtPK(merchant string, month string) string { return "STMT#" + merchant + "#" + month }

func stmtSK(k settlement.Key) string {
	return string(k.Day) + "#" + string(k.Channel) + "#" + k.Method
}

type statementItem struct {
	PK             string `dynamodbav:"pk"`
	SK             string `dynamodbav:"sk"`
	Merchant       string `dynamodbav:"merchant"`
	Channel        string `dynamodbav:"channel"`
	Method         string `dynamodbav:"method"`
	Day            string `dynamodbav:"day"`
	CompanyID      string `dynamodbav:"company_id"`
	Count          int64  `dynamodbav:"count"`
	GrossFen       int64  `dynamodbav:"gross_fen"`
	RefundCount    int64  `dynamodbav:"refund_count"`
	RefundFen      int64  `dynamodbav:"refund_fen"`
	FeeFen         int64  `dynamodbav:"fee_fen"`
	HeldCount      int64  `dynamodbav:"held_count"`
	HeldFen        int64  `dynamodbav:"held_fen"`
	ReleasedCount  int64  `dynamodbav:"released_count"`
	ReleasedFen    int64  `dynamodbav:"released_fen"`
	NetFen         int64  `dynamodbav:"net_fen"`
	MonthToDateFen int64  `dynamodbav:"mtd_fen"`
}

func toStatementItem(s settlement.Statement) statementItem {
	return statementItem{PK: stmtPK(s.Merchant, string(s.Day)[:7]), SK: stmtSK(s.Key), Merchant: s.Merchant, Channel: string(s.Channel),
		Method: s.Method, Day: string(s.Day), CompanyID: s.CompanyID, Count: s.Count, GrossFen: s.GrossFen, RefundCount: s.RefundCount,
		RefundFen: s.RefundFen, FeeFen: s.FeeFen, HeldCount: s.HeldCount, HeldFen: s.HeldFen, ReleasedCount: s.ReleasedCount, ReleasedFen: s.ReleasedFen,
		NetFen: s.NetFen, MonthToDateFen: s.MonthToDateFen}
}

func fromStatementItem(it statementItem) settlement.Statement {
	return settlement.Statement{Key: settlement.Key{Merchant: it.Merchant, Channel: domain.Channel(it.Channel), Method: it.Method, Day: calendar.Day(it.Day)},
		CompanyID: it.CompanyID, Count: it.Count, GrossFen: it.GrossFen, RefundCount: it.RefundCount, RefundFen: it.RefundFen, FeeFen: it.FeeFen,
		HeldCount: it.HeldCount, HeldFen: it.HeldFen, ReleasedCount: it.ReleasedCount, ReleasedFen: it.ReleasedFen, NetFen: it.NetFen,
		MonthToDateFen: it.MonthToDateFen}
}

type runItem struct {
	PK         string `dynamodbav:"pk"`
	SK         string `dynamodbav:"sk"`
	CompanyID  string `dynamodbav:"company_id"`
	Generation int64  `dynamodbav:"generation"`
	After      string `dynamodbav:"after"`
	// The day's refunds, after its payments.
	PaymentsDone bool            `dynamodbav:"payments_done,omitempty"`
	RefundsAfter string          `dynamodbav:"refunds_after,omitempty"`
	Done         bool            `dynamodbav:"done"`
	Version      int64           `dynamodbav:"version"`
	Statements   []statementItem `dynamodbav:"statements"` // one per method (a map cannot key the ordinary method "")
}

// Run loads the checkpoint of one merchant × channel × day (ErrNotFound: never run).
func (s *Settlements) Run(ctx context.Context, k settlement.Key) (settlement.Run, error) {
	res, err := s.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.Table), ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{"pk": str(runPK(k)), "sk": str("RUN")}})
	if err != nil {
		return settlement.Run{}, fmt.Errorf("store: settlement run: %w", err)
	}
	if len(res.Item) == 0 {
		return settlement.Run{}, ErrNotFound
	}
	var it runItem
	if err := attributevalue.UnmarshalMap(res.Item, &it); err != nil {
		return settlement.Run{}, fmt.Errorf("store: settlement run: %w", err)
	}
	r := settlement.Run{Key: settlement.Key{Merchant: k.Merchant, Channel: k.Channel, Day: k.Day}, CompanyID: it.CompanyID,
		Generation: it.Generation, After: it.After, PaymentsDone: it.PaymentsDone, RefundsAfter: it.RefundsAfter, Done: it.Done, Version: it.Version, Statements: map[string]settlement.Statement{}}
	for _, st := range it.Statements {
		r.Statements[st.Method] = fromStatementItem(st)
	}
	return r, nil
}

func (s *Settlements) runPut(r settlement.Run) (*types.Put, error) {
	it := runItem{PK: runPK(r.Key), SK: "RUN", CompanyID: r.CompanyID, Generation: r.Generation, After: r.After, PaymentsDone: r.PaymentsDone,
		RefundsAfter: r.RefundsAfter, Done: r.Done,
		Version: r.Version + 1}
	for _, st := range r.Statements {
		it.Statements = append(it.Statements, toStatementItem(st))
	}
	item, err := attributevalue.MarshalMap(it)
	if err != nil {
		return nil, err
	}
	p := &types.Put{TableName: aws.String(s.Table), Item: item}
	p.ConditionExpression, p.ExpressionAttributeValues = putAtVersion(r.Version)
	return p, nil
}

// SaveRun writes a checkpoint read at r.Version (0: none yet); r.Version
// is advanced on success. ErrSettleConflict: another run wrote first.
func (s *Settlements) SaveRun(ctx context.Context, r *settlement.Run) error {
	p, err := s.runPut(*r)
	if err != nil {
		return err
	}
	_, err = s.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: p.TableName, Item: p.Item, ConditionExpression: p.ConditionExpression,
		ExpressionAttributeValues: p.ExpressionAttributeValues})
	if isConditionFailed(err) {
		return ErrSettleConflict
	}
	if err != nil {
		return fmt.Errorf("store: save settlement run: %w", err)
	}
	r.Version++
	return nil
}

// FinishRun marks the run done and writes its statements, in one
// transaction conditional on the run's version.
func (s *Settlements) FinishRun(ctx context.Context, r *settlement.Run) error {
	r.Done = true
	p, err := s.runPut(*r)
	if err != nil {
		return err
	}
	items := []types.TransactWriteItem{{Put: p}}
	for _, st := range r.Statements {
		item, err := attributevalue.MarshalMap(toStatementItem(st))
		if err != nil {
			return err
		}
		items = append(items, types.TransactWriteItem{Put: &types.Put{TableName: aws.String(s.Table), Item: item}})
	}
	_, err = s.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	var tce *types.TransactionCanceledException
	if errors.As(err, &tce) {
		r.Done = false
		return ErrSettleConflict
	}
	if err != nil {
		r.Done = false
		return fmt.Errorf("store: finish settlement run: %w", err)
	}
	r.Version++
	return nil
}

// Statements lists one merchant's statements of a month ("2006-01"), by
// day, channel and method.
func (s *Settlements) Statements(ctx context.Context, merchant, month string) ([]settlement.Statement, error) {
	return s.statements(ctx, merchant, month, "")
}

func (s *Settlements) statements(ctx context.Context, merchant, month, before string) ([]settlement.Statement, error) {
	in := &dynamodb.QueryInput{TableName: aws.String(s.Table), ConsistentRead: aws.Bool(true),
		KeyConditionExpression:    aws.String("pk = :p"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": str(stmtPK(merchant, month))}}
	if before != "" {
		in.KeyConditionExpression = aws.String("pk = :p AND sk < :b")
		in.ExpressionAttributeValues[":b"] = str(before)
	}
	out, err := queryAll(ctx, s.DB, in, fromStatementItem)
	if err != nil {
		return nil, fmt.Errorf("store: statements: %w", err)
	}
	return out, nil
}

// MonthToDate is the gross volume of one merchant's channel × method on the
// days of k.Day's month before it, from their statements (days not settled
// count nothing: settle a month's days in order).
func (s *Settlements) MonthToDate(ctx context.Context, k settlement.Key) (int64, error) {
	sts, err := s.statements(ctx, k.Merchant, string(k.Day)[:7], string(k.Day))
	if err != nil {
		return 0, err
	}
	var sum int64
	for _, st := range sts {
		if st.Channel == k.Channel && st.Method == k.Method {
			sum += st.GrossFen
		}
	}
	return sum, nil
}

type exceptionItem struct {
	PK            string `dynamodbav:"pk"`
	SK            string `dynamodbav:"sk"`
	ID            string `dynamodbav:"id"`
	CompanyID     string `dynamodbav:"company_id"`
	Merchant      string `dynamodbav:"merchant"`
	Channel       string `dynamodbav:"channel"`
	Day           string `dynamodbav:"day"`
	Kind          string `dynamodbav:"kind"`
	OrderID       string `dynamodbav:"order_id,omitempty"`
	ProviderTxnID string `dynamodbav:"provider_txn_id,omitempty"`
	OurFen        int64  `dynamodbav:"our_fen"`
	TheirFen      int64  `dynamodbav:"their_fen"`
	Detail        string `dynamodbav:"detail,omitempty"`
	Repaired      bool   `dynamodbav:"repaired,omitempty"`
	Status        string `dynamodbav:"status"`
	Version       int64  `dynamodbav:"version"`
	FoundAt       string `dynamodbav:"found_at"`
	Note          string `dynamodbav:"note,omitempty"`
	ResolvedBy    string `dynamodbav:"resolved_by,omitempty"`
	ResolvedAt    string `dynamodbav:"resolved_at,omitempty"`
}

func excPK(companyID string) string { return "SEXC#" + companyID }

func toExceptionItem(e settlement.Exception) exceptionItem {
	return exceptionItem{PK: excPK(e.CompanyID), SK: string(e.Day) + "#" + e.ID, ID: e.ID, CompanyID: e.CompanyID, Merchant: e.Merchant,
		Channel: string(e.Channel), Day: string(e.Day), Kind: string(e.Kind), OrderID: e.OrderID, ProviderTxnID: e.ProviderTxnID,
		OurFen: e.OurFen, TheirFen: e.TheirFen, Detail: e.Detail, Repaired: e.Repaired, Status: string(e.Status), Version: e.Version,
		FoundAt: ts(e.FoundAt), Note: e.Note, ResolvedBy: e.ResolvedBy, ResolvedAt: ts(e.ResolvedAt)}
}

func fromExceptionItem(it exceptionItem) settlement.Exception {
	return settlement.Exception{ID: it.ID, CompanyID: it.CompanyID, Merchant: it.Merchant, Channel: domain.Channel(it.Channel),
		Day: calendar.Day(it.Day), Kind: settlement.Kind(it.Kind), OrderID: it.OrderID, ProviderTxnID: it.ProviderTxnID,
		OurFen: it.OurFen, TheirFen: it.TheirFen, Detail: it.Detail, Repaired: it.Repaired, Status: settlement.ExceptionStatus(it.Status),
		Version: it.Version, FoundAt: parseTS(it.FoundAt), Note: it.Note, ResolvedBy: it.ResolvedBy, ResolvedAt: parseTS(it.ResolvedAt)}
}

// AddException stores a new exception once: an exception with its id
// (the same difference found again) is left as it is; added says which.
func (s *Settlements) AddException(ctx context.Context, e settlement.Exception) (added bool, err error) {
	item, err := attributevalue.MarshalMap(toExceptionItem(e))
	if err != nil {
		return false, err
	}
	_, err = s.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.Table), Item: item,
		ConditionExpression: aws.String("attribute_not_exists(pk)")})
	if isConditionFailed(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("store: add exception: %w", err)
	}
	return true, nil
}

// Exceptions lists a company's exceptions of the days from..to (inclusive),
// newest day first.
func (s *Settlements) Exceptions(ctx context.Context, companyID string, from, to calendar.Day) ([]settlement.Exception, error) {
	in := &dynamodb.QueryInput{TableName: aws.String(s.Table), ConsistentRead: aws.Bool(true),
		KeyConditionExpression: aws.String("pk = :p AND sk BETWEEN :a AND :b"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": str(excPK(companyID)),
			":a": str(string(from) + "#"), ":b": str(string(to) + "#\uffff")}}
	out, err := queryAll(ctx, s.DB, in, fromExceptionItem)
	if err != nil {
		return nil, fmt.Errorf("store: exceptions: %w", err)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Day > out[j].Day })
	return out, nil
}

// Exception loads one of a company's exceptions.
func (s *Settlements) Exception(ctx context.Context, companyID string, day calendar.Day, id string) (settlement.Exception, error) {
	res, err := s.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.Table), ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{"pk": str(excPK(companyID)), "sk": str(string(day) + "#" + id)}})
	if err != nil {
		return settlement.Exception{}, fmt.Errorf("store: exception: %w", err)
	}
	if len(res.Item) == 0 {
		return settlement.Exception{}, ErrNotFound
	}
	var it exceptionItem
	if err := attributevalue.UnmarshalMap(res.Item, &it); err != nil {
		return settlement.Exception{}, err
	}
	return fromExceptionItem(it), nil
}

// SaveException writes an exception changed by one of its transitions,
// conditional on the version it was read at and a state the transition may
// start from. ErrSettleConflict: it changed meanwhile.
func (s *Settlements) SaveException(ctx context.Context, e settlement.Exception) error {
	before := e.Version
	e.Version++
	item, err := attributevalue.MarshalMap(toExceptionItem(e))
	if err != nil {
		return err
	}
	vals := map[string]types.AttributeValue{":v": &types.AttributeValueMemberN{Value: fmt.Sprint(before)}}
	var from []string
	for i, st := range settlement.ExceptionFrom(e.Status) {
		k := fmt.Sprintf(":s%d", i)
		vals[k] = str(string(st))
		from = append(from, k)
	}
	if len(from) == 0 {
		return fmt.Errorf("store: exception: no transition to %s", e.Status)
	}
	_, err = s.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.Table), Item: item,
		ConditionExpression:       aws.String("version = :v AND #st IN (" + strings.Join(from, ",") + ")"),
		ExpressionAttributeNames:  map[string]string{"#st": "status"},
		ExpressionAttributeValues: vals})
	if isConditionFailed(err) {
		return ErrSettleConflict
	}
	if err != nil {
		return fmt.Errorf("store: save exception: %w", err)
	}
	return nil
}

// SettledAfter reads one settle partition (SettlePartition) from after the
// sort key `after` ("" from the start), at most limit orders in payment-time
// order; more says whether the partition may hold more.
func (r *Orders) SettledAfter(ctx context.Context, partition, after string, limit int32) (orders []order.Order, more bool, err error) {
	res, err := r.DB.Query(ctx, r.settledAfter(partition, after, limit))
	if err != nil {
		return nil, false, fmt.Errorf("store: settled: %w", err)
	}
	for _, item := range res.Items {
		o, err := DecodeOrder(item)
		if err != nil {
			return nil, false, err
		}
		orders = append(orders, o)
	}
	return orders, len(res.LastEvaluatedKey) > 0, nil
}

// settledAfter is the query of one settle partition after a sort key ("":
// from the start), a page of at most limit items: payments' and refunds'
// partitions alike.
func (r *Orders) settledAfter(partition, after string, limit int32) *dynamodb.QueryInput {
	in := &dynamodb.QueryInput{TableName: aws.String(r.Table), IndexName: aws.String("settle"),
		KeyConditionExpression:    aws.String("settle_pk = :p"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": str(partition)},
		Limit:                     aws.Int32(limit)}
	if after != "" {
		in.KeyConditionExpression = aws.String("settle_pk = :p AND settle_sk > :a")
		in.ExpressionAttributeValues[":a"] = str(after)
	}
	return in
}

// SettleSortKey is an order's sort key in the settle index (paid_at#id).
func SettleSortKey(paidAt time.Time, id string) string { return ts(paidAt) + "#" + id }

type holdItem struct {
	PK          string `dynamodbav:"pk"`
	SK          string `dynamodbav:"sk"`
	CompanyID   string `dynamodbav:"company_id"`
	Method      string `dynamodbav:"method"`
	AmountFen   int64  `dynamodbav:"amount_fen"`
	PaidDay     string `dynamodbav:"paid_day"`
	Reason      string `dynamodbav:"reason"`
	By          string `dynamodbav:"by"`
	HeldAt      string `dynamodbav:"held_at"`
	ReleasedDay string `dynamodbav:"released_day,omitempty"`
	ReleasedBy  string `dynamodbav:"released_by,omitempty"`
	Version     int64  `dynamodbav:"version"`
}

func holdPK(ch domain.Channel, merchant string) string { return "SHOLD#" + string(ch) + "#" + merchant }

func toHoldItem(h settlement.Hold) holdItem {
	return holdItem{PK: holdPK(h.Channel, h.Merchant), SK: h.OrderID, CompanyID: h.CompanyID, Method: h.Method,
		AmountFen: h.AmountFen, PaidDay: string(h.PaidDay), Reason: h.Reason, By: h.By, HeldAt: ts(h.HeldAt), ReleasedDay: string(h.ReleasedDay),
		ReleasedBy: h.ReleasedBy, Version: h.Version + 1}
}

func fromHoldItem(it holdItem, ch domain.Channel, merchant string) settlement.Hold {
	return settlement.Hold{OrderID: it.SK, CompanyID: it.CompanyID, Merchant: merchant, Channel: ch, Method: it.Method,
		AmountFen: it.AmountFen, PaidDay: calendar.Day(it.PaidDay), Reason: it.Reason, By: it.By, HeldAt: parseTS(it.HeldAt),
		ReleasedDay: calendar.Day(it.ReleasedDay), ReleasedBy: it.ReleasedBy, Version: it.Version}
}

// PutHold stores a hold once (the order held before: ErrSettleConflict)
// or, with h.Version > 0, writes a changed hold (a release) conditional on
// its version. New holds of the console go through PlaceHold.
func (s *Settlements) PutHold(ctx context.Context, h settlement.Hold) error {
	item, err := attributevalue.MarshalMap(toHoldItem(h))
	if err != nil {
		return err
	}
	in := &dynamodb.PutItemInput{TableName: aws.String(s.Table), Item: item}
	in.ConditionExpression, in.ExpressionAttributeValues = putAtVersion(h.Version)
	_, err = s.DB.PutItem(ctx, in)
	if isConditionFailed(err) {
		return ErrSettleConflict
	}
	if err != nil {
		return fmt.Errorf("store: put hold: %w", err)
	}
	return nil
}

// Errors of PlaceHold.
var (
	// ErrHoldExists: the payment is held (or was, and was released) already.
	ErrHoldExists = errors.New("store: payment held already")
	// ErrDaySettled: the payment's day has been settled: a hold now would
	// change a statement already made.
	ErrDaySettled = errors.New("store: the payment's day is settled")
)

// PlaceHold stores a new hold. Unless the payment is of `today` (whose
// statement is settled again after the day ends), it is written in ONE
// transaction with the check that its day has no settlement run yet, so a
// hold is on its day's statement or refused: ErrDaySettled. The settler
// reads the holds after its run exists (settlement.Settler), so a hold that
// won is seen. ErrHoldExists: held before.
func (s *Settlements) PlaceHold(ctx context.Context, h settlement.Hold, today calendar.Day) error {
	if h.Version != 0 {
		return fmt.Errorf("store: place hold: a new hold, not version %d", h.Version)
	}
	if h.PaidDay >= today {
		if err := s.PutHold(ctx, h); errors.Is(err, ErrSettleConflict) {
			return ErrHoldExists
		} else if err != nil {
			return err
		}
		return nil
	}
	item, err := attributevalue.MarshalMap(toHoldItem(h))
	if err != nil {
		return err
	}
	run := settlement.Key{Merchant: h.Merchant, Channel: h.Channel, Day: h.PaidDay}
	_, err = s.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{ConditionCheck: &types.ConditionCheck{TableName: aws.String(s.Table),
			Key:                 map[string]types.AttributeValue{"pk": str(runPK(run)), "sk": str("RUN")},
			ConditionExpression: aws.String("attribute_not_exists(pk)")}},
		{Put: &types.Put{TableName: aws.String(s.Table), Item: item, ConditionExpression: aws.String("attribute_not_exists(pk)")}},
	}})
	var tce *types.TransactionCanceledException
	if errors.As(err, &tce) {
		if len(tce.CancellationReasons) == 2 && aws.ToString(tce.CancellationReasons[1].Code) == "ConditionalCheckFailed" {
			return ErrHoldExists
		}
		return ErrDaySettled
	}
	if err != nil {
		return fmt.Errorf("store: place hold: %w", err)
	}
	return nil
}

// Hold loads the hold of one payment (ErrNotFound: not held).
func (s *Settlements) Hold(ctx context.Context, ch domain.Channel, merchant, orderID string) (settlement.Hold, error) {
	res, err := s.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.Table), ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{"pk": str(holdPK(ch, merchant)), "sk": str(orderID)}})
	if err != nil {
		return settlement.Hold{}, fmt.Errorf("store: hold: %w", err)
	}
	if len(res.Item) == 0 {
		return settlement.Hold{}, ErrNotFound
	}
	var it holdItem
	if err := attributevalue.UnmarshalMap(res.Item, &it); err != nil {
		return settlement.Hold{}, fmt.Errorf("store: hold: %w", err)
	}
	return fromHoldItem(it, ch, merchant), nil
}

// Holds lists a merchant's holds on a channel, held and released.
func (s *Settlements) Holds(ctx context.Context, ch domain.Channel, merchant string) ([]settlement.Hold, error) {
	in := &dynamodb.QueryInput{TableName: aws.String(s.Table), ConsistentRead: aws.Bool(true),
		KeyConditionExpression:    aws.String("pk = :p"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": str(holdPK(ch, merchant))}}
	out, err := queryAll(ctx, s.DB, in, func(it holdItem) settlement.Hold { return fromHoldItem(it, ch, merchant) })
	if err != nil {
		return nil, fmt.Errorf("store: holds: %w", err)
	}
	return out, nil
}
