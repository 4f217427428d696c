package store

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/calendar"
	"github.com/estatepay/estatepay/shared/domain/order"
)

// Orders is the DynamoDB adapter of the order repository (payments.Orders).
// One item per order, written whole under an optimistic lock on its version;
// the sparse index keys are derived from the order's state on every write:
//
//   - work   (work_pk "W#<shard>", work_at = next check): unpaid orders the
//     sweeper must ask the provider about, spread over WorkShards partitions;
//   - records (rec_pk community, rec_sk paid_at#id): a community's payments (C7);
//   - settle  (settle_pk channel#merchant#day#<shard>, settle_sk paid_at#id):
//     one merchant × channel × business day for settlement, spread over
//     SettleShards partitions so no partition is hot;
//   - payer   (payer_pk company#community#<payer key>, payer_sk paid_at#id):
//     one payer's payments in one community, the resident's own history
//     (X4); only paid orders with a payer key (PayerPartition).
//   - collector (coll_pk company#staff, coll_sk created_at#id): the payments
//     through one business manager's codes, their 收款记录 (M6); only paid
//     orders with a collector (CollectorPartition; collector_query.go).
//
// The table's stream is the outbox: every write is one stream record, from
// which the relay derives the events (order.Change).
type Orders struct {
	DB    *dynamodb.Client
	Table string
}

// Orders returns the order repository on the store's orders table.
func (s *Store) OrderRepo() *Orders { return &Orders{DB: s.DB, Table: s.Orders} }

const (
	// WorkShards is how many partitions the work index spreads unpaid orders over.
	WorkShards = 16
	// SettleShards is how many partitions one merchant × channel × day spans.
	SettleShards = 8
)

// orderItem is an order as stored.
type orderItem struct {
	ID            string            `dynamodbav:"pk"`
	CommunityID   string            `dynamodbav:"community_id"`
	CompanyID     string            `dynamodbav:"company_id"`
	CodeToken     string            `dynamodbav:"code_token"`
	Channel       domain.Channel    `dynamodbav:"channel"`
	Method        string            `dynamodbav:"method,omitempty"`
	IfaceID       string            `dynamodbav:"iface_id"`
	MerchantID    string            `dynamodbav:"merchant_id"`
	AppID         string            `dynamodbav:"app_id"`
	AmountFen     int64             `dynamodbav:"amount_fen"`
	Description   string            `dynamodbav:"description"`
	RequestHash   string            `dynamodbav:"request_hash"`
	PayerID       string            `dynamodbav:"payer_id,omitempty"`
	PayerKey      string            `dynamodbav:"payer_key,omitempty"`
	HouseLabel    string            `dynamodbav:"house_label,omitempty"`
	Fields        map[string]string `dynamodbav:"fields,omitempty"`
	Status        order.Status      `dynamodbav:"status"`
	Version       int64             `dynamodbav:"version"`
	Prepay        string            `dynamodbav:"prepay,omitempty"`
	CreatedAt     string            `dynamodbav:"created_at"`
	ExpireAt      string            `dynamodbav:"expire_at"`
	NextCheckAt   string            `dynamodbav:"next_check_at,omitempty"`
	PaidAt        string            `dynamodbav:"paid_at,omitempty"`
	ClosedAt      string            `dynamodbav:"closed_at,omitempty"`
	RefundedAt    string            `dynamodbav:"refunded_at,omitempty"`
	ProviderTxnID string            `dynamodbav:"provider_txn_id,omitempty"`
	BusinessDay   string            `dynamodbav:"business_day,omitempty"`
	NoticeID      string            `dynamodbav:"notice_id,omitempty"`
	HouseID       string            `dynamodbav:"house_id,omitempty"`
	BillIDs       []string          `dynamodbav:"bill_ids,omitempty"`
	RefundFen     int64             `dynamodbav:"refund_fen,omitempty"`
	RefundedFen   int64             `dynamodbav:"refunded_fen,omitempty"`
	BillsRefused  bool              `dynamodbav:"bills_refused,omitempty"`
	RefundIDs     []string          `dynamodbav:"refund_ids,omitempty"`
	CollectorID   string            `dynamodbav:"collector_id,omitempty"`

	WorkPK   string `dynamodbav:"work_pk,omitempty"`
	WorkAt   string `dynamodbav:"work_at,omitempty"`
	RecPK    string `dynamodbav:"rec_pk,omitempty"`
	RecSK    string `dynamodbav:"rec_sk,omitempty"`
	SettlePK string `dynamodbav:"settle_pk,omitempty"`
	SettleSK string `dynamodbav:"settle_sk,omitempty"`
	PayerPK  string `dynamodbav:"payer_pk,omitempty"`
	PayerSK  string `dynamodbav:"payer_sk,omitempty"`
	CollPK   string `dynamodbav:"coll_pk,omitempty"`
	CollSK   string `dynamodbav:"coll_sk,omitempty"`
}

// ts writes a time so that strings sort as times (UTC, fixed width).
func ts(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

func parseTS(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}

func shard(id string, n uint32) string {
	h := fnv.New32a()
	_, _ = h.Write([]byte(id))
	return strconv.FormatUint(uint64(h.Sum32()%n), 10)
}

// WorkPartition names the work index partition of shard i.
func WorkPartition(i int) string { return "W#" + strconv.Itoa(i) }

// SettlePartition names one settle index partition of a merchant × channel × day.
func SettlePartition(ch domain.Channel, merchant string, day calendar.Day, shard int) string {
	return string(ch) + "#" + merchant + "#" + string(day) + "#" + strconv.Itoa(shard)
}

// PayerPartition names the payer index partition of one payer (order.PayerKeyOf)
// in one community of one company.
func PayerPartition(companyID, communityID, payerKey string) string {
	return companyID + "#" + communityID + "#" + payerKey
}

func toItem(o order.Order) orderItem {
	it := orderItem{
		ID: o.ID, CommunityID: o.CommunityID, CompanyID: o.CompanyID, CodeToken: o.CodeToken, Channel: o.Channel,
		Method: o.Method, IfaceID: o.IfaceID, MerchantID: o.MerchantID, AppID: o.AppID, AmountFen: o.AmountFen,
		Description: o.Description, RequestHash: o.RequestHash, PayerID: o.PayerID, PayerKey: o.PayerKey, HouseLabel: o.HouseLabel, Fields: o.Fields,
		Status: o.Status, Version: o.Version, Prepay: o.Prepay,
		CreatedAt: ts(o.CreatedAt), ExpireAt: ts(o.ExpireAt), NextCheckAt: ts(o.NextCheckAt), PaidAt: ts(o.PaidAt),
		ClosedAt: ts(o.ClosedAt), RefundedAt: ts(o.RefundedAt), ProviderTxnID: o.ProviderTxnID, BusinessDay: string(o.BusinessDay),
		NoticeID: o.NoticeID, HouseID: o.HouseID, BillIDs: o.BillIDs, RefundFen: o.RefundFen, RefundedFen: o.RefundedFen, BillsRefused: o.BillsRefused, RefundIDs: o.RefundIDs,
		CollectorID: o.CollectorID,
	}
	if !o.Status.Final() && !o.NextCheckAt.IsZero() {
		it.WorkPK, it.WorkAt = "W#"+shard(o.ID, WorkShards), ts(o.NextCheckAt)
	}
	if !o.PaidAt.IsZero() {
		it.RecPK, it.RecSK = o.CommunityID, ts(o.PaidAt)+"#"+o.ID
		it.SettlePK = string(o.Channel) + "#" + o.MerchantID + "#" + string(o.BusinessDay) + "#" + shard(o.ID, SettleShards)
		it.SettleSK = it.RecSK
		if o.PayerKey != "" {
			it.PayerPK, it.PayerSK = PayerPartition(o.CompanyID, o.CommunityID, o.PayerKey), it.RecSK
		}
		if o.CollectorID != "" {
			it.CollPK, it.CollSK = CollectorPartition(o.CompanyID, o.CollectorID), ts(o.CreatedAt)+"#"+o.ID
		}
	}
	return it
}

func fromItem(it orderItem) order.Order {
	return order.Order{
		ID: it.ID, CommunityID: it.CommunityID, CompanyID: it.CompanyID, CodeToken: it.CodeToken, Channel: it.Channel,
		Method: it.Method, IfaceID: it.IfaceID, MerchantID: it.MerchantID, AppID: it.AppID, AmountFen: it.AmountFen,
		Description: it.Description, RequestHash: it.RequestHash, PayerID: it.PayerID, PayerKey: it.PayerKey, HouseLabel: it.HouseLabel, Fields: it.Fields,
		Status: it.Status, Version: it.Version, Prepay: it.Prepay,
		CreatedAt: parseTS(it.CreatedAt), ExpireAt: parseTS(it.ExpireAt), NextCheckAt: parseTS(it.NextCheckAt),
		PaidAt: parseTS(it.PaidAt), ClosedAt: parseTS(it.ClosedAt), RefundedAt: parseTS(it.RefundedAt),
		ProviderTxnID: it.ProviderTxnID, BusinessDay: calendar.Day(it.BusinessDay),
		NoticeID: it.NoticeID, HouseID: it.HouseID, BillIDs: it.BillIDs, RefundFen: it.RefundFen, RefundedFen: it.RefundedFen, BillsRefused: it.BillsRefused, RefundIDs: it.RefundIDs,
		CollectorID: it.CollectorID,
	}
}

// DecodeOrder reads an order from a stored item (also a stream image).
func DecodeOrder(item map[string]types.AttributeValue) (order.Order, error) {
	var it orderItem
	if err := attributevalue.UnmarshalMap(item, &it); err != nil {
		return order.Order{}, fmt.Errorf("store: decode order: %w", err)
	}
	return fromItem(it), nil
}

// EncodeOrder writes an order as it is stored, index keys included.
func EncodeOrder(o order.Order) (map[string]types.AttributeValue, error) {
	return attributevalue.MarshalMap(toItem(o))
}

func (r *Orders) key(id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: id}}
}

// Create stores a new order once. If an order with that id exists it is
// returned with order.ErrExists and nothing is written.
func (r *Orders) Create(ctx context.Context, o order.Order) (order.Order, error) {
	item, err := EncodeOrder(o)
	if err != nil {
		return o, err
	}
	cond := expression.AttributeNotExists(expression.Name("pk"))
	ex, err := expression.NewBuilder().WithCondition(cond).Build()
	if err != nil {
		return o, err
	}
	_, err = r.DB.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(r.Table), Item: item,
		ConditionExpression: ex.Condition(), ExpressionAttributeNames: ex.Names(),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		if len(ccf.Item) > 0 {
			existing, derr := DecodeOrder(ccf.Item)
			if derr == nil {
				return existing, order.ErrExists
			}
		}
		existing, gerr := r.Get(ctx, o.ID)
		if gerr != nil {
			return o, gerr
		}
		return existing, order.ErrExists
	}
	if err != nil {
		return o, fmt.Errorf("store: create order: %w", err)
	}
	return o, nil
}

// Get reads an order (strongly consistent).
func (r *Orders) Get(ctx context.Context, id string) (order.Order, error) {
	res, err := r.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(r.Table), Key: r.key(id), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return order.Order{}, fmt.Errorf("store: get order: %w", err)
	}
	if len(res.Item) == 0 {
		return order.Order{}, order.ErrNotFound
	}
	return DecodeOrder(res.Item)
}

// maxAttempts bounds how often Update re-reads after losing a race.
const maxAttempts = 5

// Update reads the order, lets change apply one of the aggregate's
// transitions, and writes the result only if nobody wrote the order since it
// was read (its version) and — when the status changes — only from a status
// the domain allows (order.From). Losing a race re-reads and re-applies. A
// change returning order.ErrNoChange writes nothing and Update returns the
// order as it is with that error; any other error from change is returned
// as is.
func (r *Orders) Update(ctx context.Context, id string, change func(*order.Order) error) (order.Order, error) {
	for attempt := 0; ; attempt++ {
		before, err := r.Get(ctx, id)
		if err != nil {
			return before, err
		}
		after := before
		if err := change(&after); err != nil {
			return before, err
		}
		if after.Version != before.Version+1 {
			return before, fmt.Errorf("store: a change must bump the version once (%d → %d)", before.Version, after.Version)
		}
		err = r.put(ctx, before, after)
		if err == nil {
			return after, nil
		}
		if !errors.Is(err, errRace) || attempt+1 >= maxAttempts {
			return before, err
		}
	}
}

var errRace = errors.New("store: order changed concurrently")

// put writes after over before, conditioned on the version read and, for a
// status change, on the transition table.
func (r *Orders) put(ctx context.Context, before, after order.Order) error {
	put, err := orderPut(r.Table, &before, after)
	if err != nil {
		return err
	}
	_, err = r.DB.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: put.TableName, Item: put.Item,
		ConditionExpression: put.ConditionExpression, ExpressionAttributeNames: put.ExpressionAttributeNames, ExpressionAttributeValues: put.ExpressionAttributeValues,
	})
	if isConditionFailed(err) {
		return errRace
	}
	if err != nil {
		return fmt.Errorf("store: write order %s: %w", after.ID, err)
	}
	return nil
}

// orderPut is the conditional write of after over before (nil: a new order,
// written only if the id is free): conditioned on the version read and, for
// a status change, on the transition table (order.From).
func orderPut(table string, before *order.Order, after order.Order) (*types.Put, error) {
	item, err := EncodeOrder(after)
	if err != nil {
		return nil, err
	}
	w := stateWrite[order.Status]{Table: table, Item: item, New: before == nil, To: after.Status,
		Sources: order.From(after.Status), notAllowed: order.ErrNotAllowed}
	if before != nil {
		w.Version, w.From = before.Version, before.Status
	}
	return w.put()
}

// Due lists ids of unpaid orders in work shard i whose next check is before
// `before`, soonest first.
func (r *Orders) Due(ctx context.Context, i int, before time.Time, limit int32) ([]string, error) {
	key := expression.Key("work_pk").Equal(expression.Value(WorkPartition(i))).
		And(expression.Key("work_at").LessThan(expression.Value(ts(before))))
	ex, err := expression.NewBuilder().WithKeyCondition(key).Build()
	if err != nil {
		return nil, err
	}
	res, err := r.DB.Query(ctx, &dynamodb.QueryInput{
		TableName: aws.String(r.Table), IndexName: aws.String("work"),
		KeyConditionExpression: ex.KeyCondition(), ExpressionAttributeNames: ex.Names(), ExpressionAttributeValues: ex.Values(),
		Limit: aws.Int32(limit),
	})
	if err != nil {
		return nil, fmt.Errorf("store: due work: %w", err)
	}
	ids := make([]string, 0, len(res.Items))
	for _, it := range res.Items {
		if v, ok := it["pk"].(*types.AttributeValueMemberS); ok {
			ids = append(ids, v.Value)
		}
	}
	return ids, nil
}

// RecordsPage is a page of a community's paid orders, newest first (C7).
type RecordsPage = order.Page

// ErrBadCursor: the cursor does not name a record of this community.
var ErrBadCursor = errors.New("store: invalid cursor")

type cursor struct {
	SK string `json:"s"`
	ID string `json:"i"`
}

// Records pages through a community's payments, newest first.
func (r *Orders) Records(ctx context.Context, communityID, after string, limit int32) (RecordsPage, error) {
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(r.Table),
		IndexName:                 aws.String("records"),
		KeyConditionExpression:    aws.String("rec_pk = :c"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":c": str(communityID)},
		ScanIndexForward:          aws.Bool(false),
		Limit:                     aws.Int32(limit),
	}
	if after != "" {
		b, err := base64.RawURLEncoding.DecodeString(after)
		var c cursor
		if err != nil || json.Unmarshal(b, &c) != nil || c.SK == "" || c.ID == "" {
			return RecordsPage{}, ErrBadCursor
		}
		// A cursor names the last record of the previous page: it must be a
		// record of this community, exactly as stored.
		last, err := r.Get(ctx, c.ID)
		if errors.Is(err, order.ErrNotFound) || (err == nil && (last.CommunityID != communityID || last.PaidAt.IsZero() || toItem(last).RecSK != c.SK)) {
			return RecordsPage{}, ErrBadCursor
		}
		if err != nil {
			return RecordsPage{}, err
		}
		in.ExclusiveStartKey = map[string]types.AttributeValue{"rec_pk": str(communityID), "rec_sk": str(c.SK), "pk": str(c.ID)}
	}
	res, err := r.DB.Query(ctx, in)
	if err != nil {
		return RecordsPage{}, fmt.Errorf("store: records: %w", err)
	}
	return orderPage(res.Items, res.LastEvaluatedKey, "rec_sk")
}

// orderPage decodes one index page of orders and its cursor: the index's
// sort key (skName) and the order id of the last item read.
func orderPage(items []map[string]types.AttributeValue, lek map[string]types.AttributeValue, skName string) (order.Page, error) {
	var page order.Page
	for _, item := range items {
		o, err := DecodeOrder(item)
		if err != nil {
			return page, err
		}
		page.Orders = append(page.Orders, o)
	}
	if len(lek) > 0 {
		sk, _ := lek[skName].(*types.AttributeValueMemberS)
		id, _ := lek["pk"].(*types.AttributeValueMemberS)
		if sk != nil && id != nil {
			b, _ := json.Marshal(cursor{SK: sk.Value, ID: id.Value})
			page.Next = base64.RawURLEncoding.EncodeToString(b)
		}
	}
	return page, nil
}

// PayerOrders pages through one payer's payments in one community, newest
// first (X4: 我的缴费记录). The payer key comes from the identity the server
// issued (order.PayerKeyOf); an empty one lists nothing. after is the
// previous page's Next; a cursor that is not an entry of this very
// partition is ErrBadCursor.
func (r *Orders) PayerOrders(ctx context.Context, companyID, communityID, payerKey, after string, limit int32) (order.Page, error) {
	if companyID == "" || communityID == "" || payerKey == "" {
		return order.Page{}, nil
	}
	part := PayerPartition(companyID, communityID, payerKey)
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(r.Table),
		IndexName:                 aws.String("payer"),
		KeyConditionExpression:    aws.String("payer_pk = :p"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": str(part)},
		ScanIndexForward:          aws.Bool(false),
		Limit:                     aws.Int32(limit),
	}
	if after != "" {
		b, err := base64.RawURLEncoding.DecodeString(after)
		var c cursor
		if err != nil || json.Unmarshal(b, &c) != nil || c.SK == "" || c.ID == "" || !strings.HasSuffix(c.SK, "#"+c.ID) {
			return order.Page{}, ErrBadCursor
		}
		// The start key only bounds the range within this partition: a forged
		// cursor can skip entries, never reach another payer's.
		in.ExclusiveStartKey = map[string]types.AttributeValue{"payer_pk": str(part), "payer_sk": str(c.SK), "pk": str(c.ID)}
	}
	res, err := r.DB.Query(ctx, in)
	if err != nil {
		return order.Page{}, fmt.Errorf("store: payer orders: %w", err)
	}
	return orderPage(res.Items, res.LastEvaluatedKey, "payer_sk")
}

// SettlePage is a page of one merchant × channel × day's paid orders.
type SettlePage struct {
	Orders []order.Order
	Next   map[string]types.AttributeValue // nil at the end
}

// Settled reads one settle partition (see SettlePartition) page by page, in
// payment-time order, without a Scan.
func (r *Orders) Settled(ctx context.Context, partition string, start map[string]types.AttributeValue, limit int32) (SettlePage, error) {
	res, err := r.DB.Query(ctx, &dynamodb.QueryInput{
		TableName: aws.String(r.Table), IndexName: aws.String("settle"),
		KeyConditionExpression:    aws.String("settle_pk = :p"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": str(partition)},
		ExclusiveStartKey:         start, Limit: aws.Int32(limit),
	})
	if err != nil {
		return SettlePage{}, fmt.Errorf("store: settled: %w", err)
	}
	var page SettlePage
	for _, item := range res.Items {
		o, err := DecodeOrder(item)
		if err != nil {
			return page, err
		}
		page.Orders = append(page.Orders, o)
	}
	if len(res.LastEvaluatedKey) > 0 {
		page.Next = res.LastEvaluatedKey
	}
	return page, nil
}

// WorkShards is how many work partitions Due reads.
func (r *Orders) WorkShards() int { return WorkShards }
