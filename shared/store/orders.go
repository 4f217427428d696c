package store

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/estatepay/estatepay/shared/domain"
)

// Order is one payment attempt through a code.
type Order struct {
	ID            string             `dynamodbav:"pk"`
	CommunityID   string             `dynamodbav:"community_id"`
	CompanyID     string             `dynamodbav:"company_id"`
	CodeToken     string             `dynamodbav:"code_token"`
	Channel       domain.Channel     `dynamodbav:"channel"`
	IfaceID       string             `dynamodbav:"iface_id"`
	MerchantID    string             `dynamodbav:"merchant_id"` // who must receive the money (C1)
	AppID         string             `dynamodbav:"app_id"`
	AmountFen     int64              `dynamodbav:"amount_fen"`
	Description   string             `dynamodbav:"description"`
	Status        domain.OrderStatus `dynamodbav:"status"`
	RequestHash   string             `dynamodbav:"request_hash"` // idempotency: hash of the creating request
	PayerID       string             `dynamodbav:"payer_id,omitempty"`
	Prepay        string             `dynamodbav:"prepay,omitempty"` // JSON of pay.PrepayResult
	CreatedAt     time.Time          `dynamodbav:"created_at"`
	ExpireAt      time.Time          `dynamodbav:"expire_at"`
	PaidAt        *time.Time         `dynamodbav:"paid_at,omitempty"`
	ClosedAt      *time.Time         `dynamodbav:"closed_at,omitempty"`
	ProviderTxnID string             `dynamodbav:"provider_txn_id,omitempty"`
	EventSent     bool               `dynamodbav:"event_sent,omitempty"`
	EventLease    int64              `dynamodbav:"event_lease,omitempty"` // unix ms until which one sender owns the event
	// Sparse index keys: records (paid orders per community, C7) and work
	// (orders the sweeper must look at: unpaid, or paid with the event unsent).
	RecPK  string `dynamodbav:"rec_pk,omitempty"`
	RecSK  string `dynamodbav:"rec_sk,omitempty"`
	WorkPK string `dynamodbav:"work_pk,omitempty"`
	WorkAt string `dynamodbav:"work_at,omitempty"`
}

const workPartition = "W"

func orderKey(id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": str(id)}
}

func ts(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// ErrIdempotencyConflict: the idempotency key was used with a different request.
var ErrIdempotencyConflict = errors.New("store: idempotency key reused with a different request")

// CreateOrder stores o once. If an order with the same id exists (the id is
// derived from the idempotency key) and has the same RequestHash, it is returned
// with created=false; a different hash is ErrIdempotencyConflict.
func (s *Store) CreateOrder(ctx context.Context, o Order) (Order, bool, error) {
	o.Status = domain.OrderCreated
	o.WorkPK, o.WorkAt = workPartition, ts(o.CreatedAt)
	item, err := attributevalue.MarshalMap(o)
	if err != nil {
		return o, false, err
	}
	_, err = s.DB.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:           aws.String(s.Orders),
		Item:                item,
		ConditionExpression: aws.String("attribute_not_exists(pk)"),
	})
	if err == nil {
		return o, true, nil
	}
	if !isConditionFailed(err) {
		return o, false, fmt.Errorf("store: create order: %w", err)
	}
	existing, err := s.GetOrder(ctx, o.ID)
	if err != nil {
		return o, false, err
	}
	if existing.RequestHash != o.RequestHash {
		return existing, false, ErrIdempotencyConflict
	}
	return existing, false, nil
}

// GetOrder reads an order (strongly consistent).
func (s *Store) GetOrder(ctx context.Context, id string) (Order, error) {
	var o Order
	err := s.get(ctx, s.Orders, orderKey(id), &o)
	return o, err
}

// SetPrepay records the provider's prepay result: CREATED → PENDING. Storing it
// again on a PENDING order (a retried request) replaces it.
func (s *Store) SetPrepay(ctx context.Context, id, prepay string) error {
	_, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(s.Orders),
		Key:                      orderKey(id),
		UpdateExpression:         aws.String("SET prepay = :p, #st = :pending"),
		ConditionExpression:      aws.String("#st IN (:created, :pending)"),
		ExpressionAttributeNames: map[string]string{"#st": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":p": str(prepay), ":pending": str(string(domain.OrderPending)), ":created": str(string(domain.OrderCreated)),
		},
	})
	if isConditionFailed(err) {
		return ErrNotPayable
	}
	return err
}

// ErrNotPayable: the order is final (paid or closed) or its amount differs.
var ErrNotPayable = errors.New("store: order is not payable")

// Payment is a verified provider report of a successful payment.
type Payment struct {
	ProviderTxnID string
	AmountFen     int64
	PaidAt        time.Time
	PayerID       string
}

// MarkPaid moves an unpaid order with exactly this amount to PAID, and in the same
// write takes the lease on sending its payment event until leaseUntil. A CLOSED
// order is accepted too: a verified provider report that the money arrived wins
// over our own expiry.
// It returns ErrNotPayable (and changes nothing) for any other order state or amount.
func (s *Store) MarkPaid(ctx context.Context, o Order, p Payment, leaseUntil time.Time) (Order, error) {
	id := o.ID
	paidAt := ts(p.PaidAt)
	set := "SET #st = :paid, paid_at = :at, provider_txn_id = :txn, rec_pk = :community, rec_sk = :recsk, work_pk = :w, work_at = :at, event_lease = :lease"
	values := map[string]types.AttributeValue{
		":paid": str(string(domain.OrderPaid)), ":created": str(string(domain.OrderCreated)),
		":pending": str(string(domain.OrderPending)), ":closed": str(string(domain.OrderClosed)), ":w": str(workPartition),
		":at": str(paidAt), ":txn": str(p.ProviderTxnID),
		":community": str(o.CommunityID), ":recsk": str(paidAt + "#" + id),
		":amt":   &types.AttributeValueMemberN{Value: strconv.FormatInt(p.AmountFen, 10)},
		":lease": &types.AttributeValueMemberN{Value: strconv.FormatInt(leaseUntil.UnixMilli(), 10)},
	}
	if p.PayerID != "" { // keep the payer we knew when the report names none
		set += ", payer_id = :payer"
		values[":payer"] = str(p.PayerID)
	}
	res, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.Orders),
		Key:                       orderKey(id),
		UpdateExpression:          aws.String(set),
		ConditionExpression:       aws.String("#st IN (:created, :pending, :closed) AND amount_fen = :amt"),
		ExpressionAttributeNames:  map[string]string{"#st": "status"},
		ExpressionAttributeValues: values,
		ReturnValues:              types.ReturnValueAllNew,
	})
	if isConditionFailed(err) {
		return Order{}, ErrNotPayable
	}
	if err != nil {
		return Order{}, fmt.Errorf("store: mark paid: %w", err)
	}
	var paid Order
	err = attributevalue.UnmarshalMap(res.Attributes, &paid)
	return paid, err
}

// ErrLeaseHeld: another sender owns the payment event right now (or it is sent).
var ErrLeaseHeld = errors.New("store: payment event is being sent by another delivery")

// ClaimEvent takes the lease on a PAID order's unsent payment event.
func (s *Store) ClaimEvent(ctx context.Context, id string, now, leaseUntil time.Time) error {
	_, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(s.Orders),
		Key:                      orderKey(id),
		UpdateExpression:         aws.String("SET event_lease = :lease"),
		ConditionExpression:      aws.String("#st = :paid AND attribute_not_exists(event_sent) AND (attribute_not_exists(event_lease) OR event_lease < :now)"),
		ExpressionAttributeNames: map[string]string{"#st": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":paid":  str(string(domain.OrderPaid)),
			":now":   &types.AttributeValueMemberN{Value: strconv.FormatInt(now.UnixMilli(), 10)},
			":lease": &types.AttributeValueMemberN{Value: strconv.FormatInt(leaseUntil.UnixMilli(), 10)},
		},
	})
	if isConditionFailed(err) {
		return ErrLeaseHeld
	}
	return err
}

// EventSent records that the payment event went out: the order leaves the work index.
func (s *Store) EventSent(ctx context.Context, id string) error {
	_, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(s.Orders),
		Key:                      orderKey(id),
		UpdateExpression:         aws.String("SET event_sent = :t REMOVE event_lease, work_pk, work_at"),
		ConditionExpression:      aws.String("#st = :paid"),
		ExpressionAttributeNames: map[string]string{"#st": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":t": &types.AttributeValueMemberBOOL{Value: true}, ":paid": str(string(domain.OrderPaid)),
		},
	})
	return err
}

// ReleaseEvent gives up the lease after a failed send, so a retry can claim it at once.
func (s *Store) ReleaseEvent(ctx context.Context, id string) error {
	_, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           aws.String(s.Orders),
		Key:                 orderKey(id),
		UpdateExpression:    aws.String("REMOVE event_lease"),
		ConditionExpression: aws.String("attribute_not_exists(event_sent)"),
	})
	if isConditionFailed(err) {
		return nil
	}
	return err
}

// MarkClosed moves an unpaid order to CLOSED and out of the work index.
func (s *Store) MarkClosed(ctx context.Context, id string, at time.Time) error {
	_, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(s.Orders),
		Key:                      orderKey(id),
		UpdateExpression:         aws.String("SET #st = :closed, closed_at = :at REMOVE work_pk, work_at"),
		ConditionExpression:      aws.String("#st IN (:created, :pending)"),
		ExpressionAttributeNames: map[string]string{"#st": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":closed": str(string(domain.OrderClosed)), ":at": str(ts(at)),
			":created": str(string(domain.OrderCreated)), ":pending": str(string(domain.OrderPending)),
		},
	})
	if isConditionFailed(err) {
		return ErrNotPayable
	}
	return err
}

// PostponeWork moves an order still in the work index to its back (work_at = at),
// so an order whose sweep keeps failing does not hold up the orders behind it.
// An order no longer in the index is left alone.
func (s *Store) PostponeWork(ctx context.Context, id string, at time.Time) error {
	_, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.Orders),
		Key:                       orderKey(id),
		UpdateExpression:          aws.String("SET work_at = :at"),
		ConditionExpression:       aws.String("attribute_exists(work_pk)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":at": str(ts(at))},
	})
	if isConditionFailed(err) {
		return nil
	}
	return err
}

// DueWork lists ids of orders in the work index last touched before `before`
// (oldest first): unpaid orders to query or close, paid ones with unsent events.
func (s *Store) DueWork(ctx context.Context, before time.Time, limit int32) ([]string, error) {
	res, err := s.DB.Query(ctx, &dynamodb.QueryInput{
		TableName:              aws.String(s.Orders),
		IndexName:              aws.String("work"),
		KeyConditionExpression: aws.String("work_pk = :w AND work_at < :before"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":w": str(workPartition), ":before": str(ts(before)),
		},
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
type RecordsPage struct {
	Orders []Order
	Next   string // opaque cursor; "" at the end
}

// ErrBadCursor: the cursor does not name a record of this community.
var ErrBadCursor = errors.New("store: invalid cursor")

type cursor struct {
	SK string `json:"s"`
	ID string `json:"i"`
}

// ListRecords pages through a community's payments, newest first.
func (s *Store) ListRecords(ctx context.Context, communityID, after string, limit int32) (RecordsPage, error) {
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(s.Orders),
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
		last, err := s.GetOrder(ctx, c.ID)
		if errors.Is(err, ErrNotFound) || (err == nil && (last.RecPK != communityID || last.RecSK != c.SK)) {
			return RecordsPage{}, ErrBadCursor
		}
		if err != nil {
			return RecordsPage{}, err
		}
		in.ExclusiveStartKey = map[string]types.AttributeValue{"rec_pk": str(communityID), "rec_sk": str(c.SK), "pk": str(c.ID)}
	}
	res, err := s.DB.Query(ctx, in)
	if err != nil {
		return RecordsPage{}, fmt.Errorf("store: records: %w", err)
	}
	var page RecordsPage
	if err := attributevalue.UnmarshalListOfMaps(res.Items, &page.Orders); err != nil {
		return page, err
	}
	if lek := res.LastEvaluatedKey; len(lek) > 0 {
		sk, _ := lek["rec_sk"].(*types.AttributeValueMemberS)
		id, _ := lek["pk"].(*types.AttributeValueMemberS)
		if sk != nil && id != nil {
			b, _ := json.Marshal(cursor{SK: sk.Value, ID: id.Value})
			page.Next = base64.RawURLEncoding.EncodeToString(b)
		}
	}
	return page, nil
}
