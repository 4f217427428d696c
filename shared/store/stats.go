package store

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/estatepay/estatepay/shared/domain/calendar"
	"github.com/estatepay/estatepay/shared/domain/order"
	"github.com/estatepay/estatepay/shared/domain/refund"
)

// Stats is the dashboard's aggregate store (StatsTable). It holds two kinds
// of item:
//
//   - an aggregate per company × community × business day × channel:
//     pk STAT#<companyId>#<communityId>, sk <day>#<channel>, with count and
//     amount_fen (payments of that day still held) and refunded_count and
//     refunded_fen (payments of that day refunded since), all kept with ADD;
//   - a processed-event marker pk EVENT#<eventId>, sk A, expiring after
//     MarkerTTL, written in the same TransactWriteItems as the ADD under
//     attribute_not_exists: an event changes the aggregates once however
//     often it is delivered, concurrently or not.
//
// Semantics (README, "Dashboard"): payment.succeeded adds 1 and the amount
// to the cell of the payment's business day and channel. refund.succeeded
// (a full or partial refund the provider confirmed) moves its amount from
// amount_fen to refunded_fen and adds 1 to refunded_count, in the same cell
// (the payment's day, not the refund's): a day's figures are the payments
// made that day, net of what was refunded since; count stays the number of
// payments. ADDs commute, so a payment event redriven from the dead-letter
// queue after its refund still ends at the same figures. Other events
// (order.closed, order.refunded — which follows the refunds already
// counted, or an order never seen paid — refund.failed) change nothing.
type Stats struct {
	DB    *dynamodb.Client
	Table string // StatsTable name
	// Clock gives the time the markers' expiry counts from (nil: time.Now).
	Clock func() time.Time
}

// MarkerTTL is how long a processed event's marker is kept: far longer than
// SQS redelivers a message (visibility timeout × maxReceiveCount, minutes)
// and than PaymentEventsQueue's deduplication window.
const MarkerTTL = 7 * 24 * time.Hour

// StatResult says what Add did with an event.
type StatResult string

const (
	StatCounted   StatResult = "counted"   // payment added
	StatRefunded  StatResult = "refunded"  // a counted payment moved to refunded
	StatDuplicate StatResult = "duplicate" // the event had already been applied
	StatIgnored   StatResult = "ignored"   // nothing to count (order.closed, refund of an order never paid)
)

// ErrBadStatEvent is an event that cannot be counted (missing company,
// community, day, channel, or a non-positive amount): a bug upstream, never
// retried into success.
var ErrBadStatEvent = errors.New("store: event cannot be counted")

// DailyStat is one aggregate: one community's payments of one business day
// through one channel.
type DailyStat struct {
	CompanyID     string       `dynamodbav:"company_id"`
	CommunityID   string       `dynamodbav:"community_id"`
	Day           calendar.Day `dynamodbav:"day"`
	Channel       string       `dynamodbav:"channel"`
	Count         int64        `dynamodbav:"count"`          // payments still held
	AmountFen     int64        `dynamodbav:"amount_fen"`     // their amount
	RefundedCount int64        `dynamodbav:"refunded_count"` // payments of the day refunded since
	RefundedFen   int64        `dynamodbav:"refunded_fen"`
}

func statPK(companyID, communityID string) string {
	return "STAT#" + companyID + "#" + communityID
}

func statSK(day calendar.Day, channel string) string { return string(day) + "#" + channel }

// maxConflictAttempts bounds the retries of a transaction DynamoDB cancels
// for a conflict with another transaction on the same aggregate (a busy
// community's day): the message is reported failed after that and SQS
// delivers it again.
const maxConflictAttempts = 4

// Add applies ev to the aggregates once (see Stats).
func (s *Stats) Add(ctx context.Context, ev order.Event) (StatResult, error) {
	var sign int64
	switch {
	case ev.Type == order.EventPaid:
		sign = 1
	case ev.Type == refund.EventSucceeded:
		sign = -1
	default:
		return StatIgnored, nil
	}
	day := ev.BusinessDay
	if day == "" && ev.PaidAt != nil {
		day = calendar.BusinessDay(*ev.PaidAt)
	}
	if ev.ID == "" || ev.CompanyID == "" || ev.CommunityID == "" || ev.Channel == "" || day == "" || ev.AmountFen <= 0 ||
		strings.Contains(ev.CompanyID, "#") || strings.Contains(ev.CommunityID, "#") {
		return "", fmt.Errorf("%w: %s %s (company %q, community %q, day %q, channel %q, amount %d)",
			ErrBadStatEvent, ev.Type, ev.ID, ev.CompanyID, ev.CommunityID, day, ev.Channel, ev.AmountFen)
	}
	if _, err := calendar.ParseDay(string(day)); err != nil {
		return "", fmt.Errorf("%w: %s: business day %q", ErrBadStatEvent, ev.ID, day)
	}

	upd := expression.Set(expression.Name("company_id"), expression.Value(ev.CompanyID)).
		Set(expression.Name("community_id"), expression.Value(ev.CommunityID)).
		Set(expression.Name("day"), expression.Value(string(day))).
		Set(expression.Name("channel"), expression.Value(ev.Channel)).
		Add(expression.Name("amount_fen"), expression.Value(sign*ev.AmountFen))
	if sign > 0 {
		upd = upd.Add(expression.Name("count"), expression.Value(1))
	} else {
		upd = upd.Add(expression.Name("refunded_count"), expression.Value(1)).
			Add(expression.Name("refunded_fen"), expression.Value(ev.AmountFen))
	}
	ux, err := expression.NewBuilder().WithUpdate(upd).Build()
	if err != nil {
		return "", err
	}
	mx, err := expression.NewBuilder().WithCondition(expression.AttributeNotExists(expression.Name("pk"))).Build()
	if err != nil {
		return "", err
	}
	now := time.Now
	if s.Clock != nil {
		now = s.Clock
	}
	in := &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: &types.Put{
			TableName: aws.String(s.Table),
			Item: map[string]types.AttributeValue{
				"pk":         str("EVENT#" + ev.ID),
				"sk":         str("A"),
				"type":       str(ev.Type),
				"order_id":   str(ev.OrderID),
				"expires_at": &types.AttributeValueMemberN{Value: strconv.FormatInt(now().Add(MarkerTTL).Unix(), 10)},
			},
			ConditionExpression: mx.Condition(), ExpressionAttributeNames: mx.Names(),
		}},
		{Update: &types.Update{
			TableName:        aws.String(s.Table),
			Key:              map[string]types.AttributeValue{"pk": str(statPK(ev.CompanyID, ev.CommunityID)), "sk": str(statSK(day, ev.Channel))},
			UpdateExpression: ux.Update(), ExpressionAttributeNames: ux.Names(), ExpressionAttributeValues: ux.Values(),
		}},
	}}
	for attempt := 1; ; attempt++ {
		_, err = s.DB.TransactWriteItems(ctx, in)
		if err == nil {
			if sign > 0 {
				return StatCounted, nil
			}
			return StatRefunded, nil
		}
		var tce *types.TransactionCanceledException
		if !errors.As(err, &tce) {
			return "", fmt.Errorf("store: count event %s: %w", ev.ID, err)
		}
		if len(tce.CancellationReasons) > 0 && aws.ToString(tce.CancellationReasons[0].Code) == "ConditionalCheckFailed" {
			return StatDuplicate, nil // the marker exists: already counted
		}
		conflict := false
		for _, r := range tce.CancellationReasons {
			conflict = conflict || aws.ToString(r.Code) == "TransactionConflict"
		}
		if !conflict || attempt >= maxConflictAttempts {
			return "", fmt.Errorf("store: count event %s: %w", ev.ID, err)
		}
		backoff := time.Duration(10<<attempt+rand.IntN(20)) * time.Millisecond
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(backoff):
		}
	}
}

// dailyConcurrency bounds the Queries Daily runs at once.
const dailyConcurrency = 8

// Daily reads the aggregates of the given communities of a company for the
// business days from..to (inclusive): one Query per community (its
// partition, sk between the days), never a Scan. Communities of another
// company have no items under this company's key, so they read as empty.
// The result is ordered by community (as given), day, channel.
func (s *Stats) Daily(ctx context.Context, companyID string, communityIDs []string, from, to calendar.Day) ([]DailyStat, error) {
	if from > to {
		return nil, nil
	}
	results := make([][]DailyStat, len(communityIDs))
	errs := make([]error, len(communityIDs))
	sem := make(chan struct{}, dailyConcurrency)
	var wg sync.WaitGroup
	for i, id := range communityIDs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			results[i], errs[i] = s.community(ctx, companyID, id, from, to)
		}()
	}
	wg.Wait()
	var out []DailyStat
	for i := range communityIDs {
		if errs[i] != nil {
			return nil, errs[i]
		}
		out = append(out, results[i]...)
	}
	return out, nil
}

func (s *Stats) community(ctx context.Context, companyID, communityID string, from, to calendar.Day) ([]DailyStat, error) {
	// sk = <day>#<channel>: from sorts before every sk of its day, and
	// "<to>$" ('$' follows '#') after every sk of day to.
	key := expression.Key("pk").Equal(expression.Value(statPK(companyID, communityID))).
		And(expression.Key("sk").Between(expression.Value(string(from)), expression.Value(string(to)+"$")))
	ex, err := expression.NewBuilder().WithKeyCondition(key).Build()
	if err != nil {
		return nil, err
	}
	in := &dynamodb.QueryInput{
		TableName: aws.String(s.Table), KeyConditionExpression: ex.KeyCondition(),
		ExpressionAttributeNames: ex.Names(), ExpressionAttributeValues: ex.Values(),
	}
	var out []DailyStat
	for {
		res, err := s.DB.Query(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("store: stats of %s: %w", communityID, err)
		}
		for _, it := range res.Items {
			var d DailyStat
			if err := attributevalue.UnmarshalMap(it, &d); err != nil {
				return nil, fmt.Errorf("store: stats item of %s: %w", communityID, err)
			}
			out = append(out, d)
		}
		if len(res.LastEvaluatedKey) == 0 {
			break
		}
		in.ExclusiveStartKey = res.LastEvaluatedKey
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Day != out[j].Day {
			return out[i].Day < out[j].Day
		}
		return out[i].Channel < out[j].Channel
	})
	return out, nil
}
