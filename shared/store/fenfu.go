package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/estatepay/estatepay/shared/domain/calendar"
	"github.com/estatepay/estatepay/shared/domain/fenfu"
	"github.com/estatepay/estatepay/shared/domain/order"
)

// FieldSealer encrypts one sensitive field (shared/fieldcrypt's Sealer):
// aad binds the ciphertext to its item.
type FieldSealer interface {
	Seal(plaintext []byte, aad string) (string, error)
	Open(sealed string, aad string) ([]byte, error)
}

// Fenfu is the 分付 store (F4, F6): its own table (FenfuTable, its own KMS
// key), apart from ordinary orders:
//
//   - a risk record: pk FRISK#<company>, sk <at, UTC>#<record id>
//     (fenfu.RiskRecord), so a company's records are one Query, newest first;
//     kept 3 years (expires_at);
//   - a payer's 分付 total of one day (Asia/Shanghai): pk FDAY#<payer>#<day>,
//     sk TOTAL (spent_fen), and one reservation per order under the same pk,
//     sk O#<order id> (amount_fen; released once given back): the reservation and the total change in
//     one transaction, the total only while it stays within the limit, so
//     concurrent payments cannot pass it; expire two days after the day;
//   - a copy of each paid 分付 order: pk FORDER#<company>, sk <paid at,
//     UTC>#<order id>; kept 5 years.
//
// PayerOpenID is sealed with Sealer when one is set (nil: stored plain).
type Fenfu struct {
	DB     *dynamodb.Client
	Table  string // FenfuTable name
	Sealer FieldSealer
}

// expiresAt is the TTL (epoch seconds) of a 分付 item of kind made at `at`,
// by the retention rules (F6, fenfu.ExpiresAt: risk records 3 years,
// transaction details 5). Items are written without open disputes; a
// dispute's legal hold removes the attribute (no dispute is recorded yet).
func expiresAt(kind fenfu.RecordKind, at time.Time) (int64, error) {
	exp, ok, err := fenfu.ExpiresAt(kind, fenfu.RetentionDates{At: at})
	if err == nil && !ok {
		err = fmt.Errorf("store: fenfu %s without an expiry", kind)
	}
	return exp, err
}

// ErrFenfuDailyLimit: the payment would take the payer's 分付 total of the
// day past the limit.
var ErrFenfuDailyLimit = errors.New("store: 分付 daily limit reached")

func (f *Fenfu) seal(v, aad string) (string, error) {
	if f.Sealer == nil || v == "" {
		return v, nil
	}
	return f.Sealer.Seal([]byte(v), aad)
}

func (f *Fenfu) open(v, aad string) (string, error) {
	if f.Sealer == nil || v == "" {
		return v, nil
	}
	b, err := f.Sealer.Open(v, aad)
	return string(b), err
}

func dayPK(payer string, day calendar.Day) string { return "FDAY#" + payer + "#" + string(day) }

// Reserve counts a 分付 payment of amountFen into its payer's total of day,
// refused with ErrFenfuDailyLimit when the total would pass limitFen. A
// reservation is made once per order: reserving it again changes nothing.
// It returns the payer's total before this payment.
func (f *Fenfu) Reserve(ctx context.Context, payer, orderID string, day calendar.Day, amountFen, limitFen int64) (int64, error) {
	if payer == "" || orderID == "" || amountFen <= 0 {
		return 0, errors.New("store: fenfu reserve: payer, order and a positive amount")
	}
	if amountFen > limitFen {
		return 0, ErrFenfuDailyLimit
	}
	pk := dayPK(payer, day)
	exp := num(day.Start().Add(72 * time.Hour).Unix())
	for attempt := 0; ; attempt++ {
		_, err := f.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
			{Put: &types.Put{TableName: aws.String(f.Table), ConditionExpression: aws.String("attribute_not_exists(pk)"),
				Item: map[string]types.AttributeValue{"pk": str(pk), "sk": str("O#" + orderID), "amount_fen": num(amountFen), "expires_at": exp}}},
			{Update: &types.Update{TableName: aws.String(f.Table),
				Key:                       map[string]types.AttributeValue{"pk": str(pk), "sk": str("TOTAL")},
				UpdateExpression:          aws.String("SET spent_fen = if_not_exists(spent_fen, :zero) + :amt, expires_at = :exp"),
				ConditionExpression:       aws.String("attribute_not_exists(spent_fen) OR spent_fen <= :room"),
				ExpressionAttributeValues: map[string]types.AttributeValue{":zero": num(0), ":amt": num(amountFen), ":exp": exp, ":room": num(limitFen - amountFen)}}},
		}})
		if err == nil {
			spent, err := f.Spent(ctx, payer, day)
			return spent - amountFen, err
		}
		codes := cancellation(err)
		switch {
		case len(codes) == 2 && codes[0] == "ConditionalCheckFailed":
			spent, err := f.Spent(ctx, payer, day)
			return spent - amountFen, err // reserved already
		case len(codes) == 2 && codes[1] == "ConditionalCheckFailed":
			return 0, ErrFenfuDailyLimit
		case (codes != nil || isTxConflict(err)) && attempt < 50:
			continue // lost to a concurrent reservation: read again and retry
		}
		return 0, fmt.Errorf("store: fenfu reserve: %w", err)
	}
}

func isTxConflict(err error) bool {
	var c *types.TransactionConflictException
	return errors.As(err, &c)
}

// isTxLost reports a transaction that did not happen because of the items'
// state: a condition failed (cancelled) or another transaction held an item.
func isTxLost(err error) bool {
	var tce *types.TransactionCanceledException
	return errors.As(err, &tce) || isTxConflict(err)
}

// Release gives a reservation back (the payment failed or was closed): the
// reservation stays, marked released (the order cannot be counted again);
// releasing one that is not there (never made, or released) does nothing.
func (f *Fenfu) Release(ctx context.Context, payer, orderID string, day calendar.Day) error {
	pk := dayPK(payer, day)
	for attempt := 0; ; attempt++ {
		res, err := f.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(f.Table), ConsistentRead: aws.Bool(true),
			Key: map[string]types.AttributeValue{"pk": str(pk), "sk": str("O#" + orderID)}})
		if err != nil {
			return fmt.Errorf("store: fenfu release: %w", err)
		}
		if len(res.Item) == 0 {
			return nil
		}
		amt, ok := res.Item["amount_fen"].(*types.AttributeValueMemberN)
		if !ok {
			return errors.New("store: fenfu release: reservation without amount")
		}
		if _, gone := res.Item["released"]; gone {
			return nil
		}
		_, err = f.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
			{Update: &types.Update{TableName: aws.String(f.Table),
				Key:                       map[string]types.AttributeValue{"pk": str(pk), "sk": str("O#" + orderID)},
				UpdateExpression:          aws.String("SET released = :t"),
				ConditionExpression:       aws.String("attribute_exists(pk) AND attribute_not_exists(released)"),
				ExpressionAttributeValues: map[string]types.AttributeValue{":t": &types.AttributeValueMemberBOOL{Value: true}}}},
			{Update: &types.Update{TableName: aws.String(f.Table),
				Key:                       map[string]types.AttributeValue{"pk": str(pk), "sk": str("TOTAL")},
				UpdateExpression:          aws.String("SET spent_fen = spent_fen - :amt"),
				ConditionExpression:       aws.String("attribute_exists(spent_fen)"),
				ExpressionAttributeValues: map[string]types.AttributeValue{":amt": amt}}},
		}})
		if err == nil {
			return nil
		}
		if (cancellation(err) != nil || isTxConflict(err)) && attempt < 50 {
			continue // released concurrently, or lost a race: look again
		}
		return fmt.Errorf("store: fenfu release: %w", err)
	}
}

// Spent is the payer's 分付 total of day (reservations counted).
func (f *Fenfu) Spent(ctx context.Context, payer string, day calendar.Day) (int64, error) {
	var it struct {
		Spent int64 `dynamodbav:"spent_fen"`
	}
	err := (&Store{DB: f.DB}).get(ctx, f.Table, map[string]types.AttributeValue{"pk": str(dayPK(payer, day)), "sk": str("TOTAL")}, &it)
	if errors.Is(err, ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("store: fenfu spent: %w", err)
	}
	return it.Spent, nil
}

type riskItem struct {
	PK        string `dynamodbav:"pk"`
	SK        string `dynamodbav:"sk"`
	ID        string `dynamodbav:"id"`
	Company   string `dynamodbav:"company_id"`
	Merchant  string `dynamodbav:"merchant_id"`
	OrderID   string `dynamodbav:"order_id"`
	Payer     string `dynamodbav:"payer_openid"`
	Rule      string `dynamodbav:"rule"`
	Decision  string `dynamodbav:"decision"`
	Detail    string `dynamodbav:"detail"`
	AmountFen int64  `dynamodbav:"amount_fen"`
	At        string `dynamodbav:"at"`
	ExpiresAt int64  `dynamodbav:"expires_at"`
}

const rfc3339Milli = "2006-01-02T15:04:05.000Z"

func riskPK(company string) string { return "FRISK#" + company }

// PutRecord stores one risk decision (once: the same record again is not
// written twice).
func (f *Fenfu) PutRecord(ctx context.Context, r fenfu.RiskRecord) error {
	if r.ID == "" || r.CompanyID == "" || r.At.IsZero() {
		return errors.New("store: fenfu record: id, company and time")
	}
	payer, err := f.seal(r.PayerOpenID, "fenfu-risk:"+r.ID)
	if err != nil {
		return fmt.Errorf("store: fenfu record: %w", err)
	}
	at := r.At.UTC()
	exp, err := expiresAt(fenfu.RiskRecordKind, at)
	if err != nil {
		return err
	}
	item, err := attributevalue.MarshalMap(riskItem{PK: riskPK(r.CompanyID), SK: at.Format(rfc3339Milli) + "#" + r.ID, ID: r.ID,
		Company: r.CompanyID, Merchant: r.MerchantID, OrderID: r.OrderID, Payer: payer, Rule: r.Rule, Decision: string(r.Decision),
		Detail: r.Detail, AmountFen: r.AmountFen, At: at.Format(time.RFC3339Nano), ExpiresAt: exp})
	if err != nil {
		return err
	}
	_, err = f.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(f.Table), Item: item,
		ConditionExpression: aws.String("attribute_not_exists(pk)")})
	if err != nil && !isConditionFailed(err) {
		return fmt.Errorf("store: fenfu record: %w", err)
	}
	return nil
}

// Records lists a company's risk records, newest first, at most limit
// (warnings only: only Warn and Hold decisions), after the cursor a previous
// page returned ("" for the first); the next cursor is "" at the end.
func (f *Fenfu) Records(ctx context.Context, company string, warningsOnly bool, after string, limit int32) ([]fenfu.RiskRecord, string, error) {
	if company == "" {
		return nil, "", errors.New("store: fenfu records: company")
	}
	in := &dynamodb.QueryInput{TableName: aws.String(f.Table), ScanIndexForward: aws.Bool(false), Limit: aws.Int32(limit),
		KeyConditionExpression:    aws.String("pk = :p"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": str(riskPK(company))}}
	if warningsOnly {
		in.FilterExpression = aws.String("decision IN (:w, :h)")
		in.ExpressionAttributeValues[":w"] = str(string(fenfu.Warn))
		in.ExpressionAttributeValues[":h"] = str(string(fenfu.Hold))
	}
	if after != "" {
		in.ExclusiveStartKey = map[string]types.AttributeValue{"pk": str(riskPK(company)), "sk": str(after)}
	}
	var out []fenfu.RiskRecord
	for {
		res, err := f.DB.Query(ctx, in)
		if err != nil {
			return nil, "", fmt.Errorf("store: fenfu records: %w", err)
		}
		for _, raw := range res.Items {
			var it riskItem
			if err := attributevalue.UnmarshalMap(raw, &it); err != nil {
				return nil, "", err
			}
			payer, err := f.open(it.Payer, "fenfu-risk:"+it.ID)
			if err != nil {
				return nil, "", fmt.Errorf("store: fenfu records: %w", err)
			}
			at, _ := time.Parse(time.RFC3339Nano, it.At)
			out = append(out, fenfu.RiskRecord{ID: it.ID, CompanyID: it.Company, MerchantID: it.Merchant, OrderID: it.OrderID,
				PayerOpenID: payer, Rule: it.Rule, Decision: fenfu.Decision(it.Decision), Detail: it.Detail, AmountFen: it.AmountFen, At: at})
		}
		next := ""
		if sk, ok := res.LastEvaluatedKey["sk"].(*types.AttributeValueMemberS); ok {
			next = sk.Value
		}
		// a filtered page may come back short: read on until it is full or the end
		if next == "" || int32(len(out)) >= limit {
			return out, next, nil
		}
		in.ExclusiveStartKey = res.LastEvaluatedKey
		in.Limit = aws.Int32(limit - int32(len(out)))
	}
}

type fenfuOrderItem struct {
	PK          string `dynamodbav:"pk"`
	SK          string `dynamodbav:"sk"`
	OrderID     string `dynamodbav:"order_id"`
	Company     string `dynamodbav:"company_id"`
	Community   string `dynamodbav:"community_id"`
	Merchant    string `dynamodbav:"merchant_id"`
	Payer       string `dynamodbav:"payer_openid"`
	AmountFen   int64  `dynamodbav:"amount_fen"`
	ProviderTxn string `dynamodbav:"provider_txn_id"`
	PaidAt      string `dynamodbav:"paid_at"`
	BusinessDay string `dynamodbav:"business_day"`
	ExpiresAt   int64  `dynamodbav:"expires_at"`
}

// PutOrder keeps the copy of a paid 分付 order (F6: apart from ordinary
// orders); once per order.
func (f *Fenfu) PutOrder(ctx context.Context, o order.Order) error {
	if o.Method != fenfu.Method || o.PaidAt.IsZero() {
		return errors.New("store: fenfu order: a paid 分付 order")
	}
	payer, err := f.seal(o.PayerID, "fenfu-order:"+o.ID)
	if err != nil {
		return fmt.Errorf("store: fenfu order: %w", err)
	}
	paid := o.PaidAt.UTC()
	exp, err := expiresAt(fenfu.TransactionRecord, paid)
	if err != nil {
		return err
	}
	item, err := attributevalue.MarshalMap(fenfuOrderItem{PK: "FORDER#" + o.CompanyID, SK: paid.Format(rfc3339Milli) + "#" + o.ID,
		OrderID: o.ID, Company: o.CompanyID, Community: o.CommunityID, Merchant: o.MerchantID, Payer: payer, AmountFen: o.AmountFen,
		ProviderTxn: o.ProviderTxnID, PaidAt: paid.Format(time.RFC3339Nano), BusinessDay: string(o.BusinessDay),
		ExpiresAt: exp})
	if err != nil {
		return err
	}
	_, err = f.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(f.Table), Item: item,
		ConditionExpression: aws.String("attribute_not_exists(pk)")})
	if err != nil && !isConditionFailed(err) {
		return fmt.Errorf("store: fenfu order: %w", err)
	}
	return nil
}
