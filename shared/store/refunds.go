package store

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/calendar"
	"github.com/estatepay/estatepay/shared/domain/refund"
)

// Refunds are items of the OrdersTable beside their orders (pk = the refund
// id, "RF…", never an order id's shape), so a refund and the order it takes
// from are written in one transaction and its changes are on the same
// stream (the relay derives refund events from them). An unfinished refund
// is in the `work` index like an unpaid order: the sweeper submits it again
// or asks the provider about it. A SUCCEEDED refund is in the `settle`
// index under a partition of its own (SettleRefundPartition: its merchant ×
// channel × the business day it succeeded, sharded as orders are), so the
// settler and the reconciler read a day's refunds without a Scan.
type refundItem struct {
	ID               string         `dynamodbav:"pk"`
	Kind             string         `dynamodbav:"kind"`
	OrderID          string         `dynamodbav:"order_id"`
	CompanyID        string         `dynamodbav:"company_id"`
	CommunityID      string         `dynamodbav:"community_id"`
	Channel          domain.Channel `dynamodbav:"channel"`
	IfaceID          string         `dynamodbav:"iface_id"`
	MerchantID       string         `dynamodbav:"merchant_id,omitempty"`
	Method           string         `dynamodbav:"method,omitempty"`
	AmountFen        int64          `dynamodbav:"amount_fen"`
	OrderFen         int64          `dynamodbav:"order_fen"`
	PaidDay          string         `dynamodbav:"paid_day,omitempty"`
	Reason           string         `dynamodbav:"reason"`
	By               string         `dynamodbav:"by"`
	ReopenBills      []string       `dynamodbav:"reopen_bills,omitempty"`
	Status           refund.Status  `dynamodbav:"status"`
	Version          int64          `dynamodbav:"version"`
	ProviderRefundID string         `dynamodbav:"provider_refund_id,omitempty"`
	CreatedAt        string         `dynamodbav:"created_at"`
	SucceededAt      string         `dynamodbav:"succeeded_at,omitempty"`
	FailedAt         string         `dynamodbav:"failed_at,omitempty"`
	FailReason       string         `dynamodbav:"fail_reason,omitempty"`
	NextCheckAt      string         `dynamodbav:"next_check_at,omitempty"`
	Attempts         int            `dynamodbav:"attempts,omitempty"`

	WorkPK   string `dynamodbav:"work_pk,omitempty"`
	WorkAt   string `dynamodbav:"work_at,omitempty"`
	SettlePK string `dynamodbav:"settle_pk,omitempty"`
	SettleSK string `dynamodbav:"settle_sk,omitempty"`
}

// EncodeRefund is a refund as stored, its work index keys included.
func EncodeRefund(r refund.Refund) (map[string]types.AttributeValue, error) {
	it := refundItem{ID: r.ID, Kind: "refund", OrderID: r.OrderID, CompanyID: r.CompanyID, CommunityID: r.CommunityID, Channel: r.Channel,
		IfaceID: r.IfaceID, MerchantID: r.MerchantID, Method: r.Method, AmountFen: r.AmountFen, OrderFen: r.OrderFen, PaidDay: string(r.PaidDay), Reason: r.Reason, By: r.By, ReopenBills: r.ReopenBills,
		Status: r.Status, Version: r.Version, ProviderRefundID: r.ProviderRefundID, CreatedAt: ts(r.CreatedAt),
		SucceededAt: ts(r.SucceededAt), FailedAt: ts(r.FailedAt), FailReason: r.FailReason, NextCheckAt: ts(r.NextCheckAt), Attempts: r.Attempts}
	if !r.Status.Final() && !r.NextCheckAt.IsZero() {
		it.WorkPK, it.WorkAt = "W#"+shard(r.ID, WorkShards), ts(r.NextCheckAt)
	}
	if day, ok := r.SettleDay(); ok && r.MerchantID != "" {
		it.SettlePK = settleRefundPK(r.Channel, r.MerchantID, day, shard(r.ID, SettleShards))
		it.SettleSK = SettleSortKey(r.SucceededAt, r.ID)
	}
	return attributevalue.MarshalMap(it)
}

// DecodeRefund reads a refund from a stored item (also a stream image).
func DecodeRefund(item map[string]types.AttributeValue) (refund.Refund, error) {
	var it refundItem
	if err := attributevalue.UnmarshalMap(item, &it); err != nil {
		return refund.Refund{}, fmt.Errorf("store: decode refund: %w", err)
	}
	return refund.Refund{ID: it.ID, OrderID: it.OrderID, CompanyID: it.CompanyID, CommunityID: it.CommunityID, Channel: it.Channel,
		IfaceID: it.IfaceID, MerchantID: it.MerchantID, Method: it.Method, AmountFen: it.AmountFen, OrderFen: it.OrderFen, PaidDay: calendar.Day(it.PaidDay), Reason: it.Reason, By: it.By, ReopenBills: it.ReopenBills,
		Status: it.Status, Version: it.Version, ProviderRefundID: it.ProviderRefundID, CreatedAt: parseTS(it.CreatedAt),
		SucceededAt: parseTS(it.SucceededAt), FailedAt: parseTS(it.FailedAt), FailReason: it.FailReason,
		NextCheckAt: parseTS(it.NextCheckAt), Attempts: it.Attempts}, nil
}

// IsRefundItem reports whether a stored OrdersTable item is a refund.
func IsRefundItem(item map[string]types.AttributeValue) bool {
	k, ok := item["kind"].(*types.AttributeValueMemberS)
	return ok && k.Value == "refund"
}

// GetRefund reads a refund (strongly consistent).
func (r *Orders) GetRefund(ctx context.Context, id string) (refund.Refund, error) {
	res, err := r.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(r.Table), Key: r.key(id), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return refund.Refund{}, fmt.Errorf("store: get refund: %w", err)
	}
	if len(res.Item) == 0 || !IsRefundItem(res.Item) {
		return refund.Refund{}, refund.ErrNotFound
	}
	return DecodeRefund(res.Item)
}

// Refunds reads refunds by id (an order's RefundIDs), in the order given;
// missing ones are skipped.
func (r *Orders) Refunds(ctx context.Context, ids []string) ([]refund.Refund, error) {
	var out []refund.Refund
	for start := 0; start < len(ids); start += 100 {
		end := min(start+100, len(ids))
		keys := make([]map[string]types.AttributeValue, 0, end-start)
		for _, id := range ids[start:end] {
			keys = append(keys, r.key(id))
		}
		req := map[string]types.KeysAndAttributes{r.Table: {Keys: keys, ConsistentRead: aws.Bool(true)}}
		byID := map[string]refund.Refund{}
		for attempt := 0; len(req) > 0; attempt++ {
			if attempt == 5 {
				return nil, fmt.Errorf("store: refunds: keys still unprocessed")
			}
			res, err := r.DB.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: req})
			if err != nil {
				return nil, fmt.Errorf("store: refunds: %w", err)
			}
			for _, item := range res.Responses[r.Table] {
				if !IsRefundItem(item) {
					continue
				}
				f, err := DecodeRefund(item)
				if err != nil {
					return nil, err
				}
				byID[f.ID] = f
			}
			req = res.UnprocessedKeys
		}
		for _, id := range ids[start:end] {
			if f, ok := byID[id]; ok {
				out = append(out, f)
			}
		}
	}
	return out, nil
}

// refundPut is the conditional write of after over before (nil: new, only
// if the id is free), on the version read and refund.From(after.Status).
func refundPut(table string, before *refund.Refund, after refund.Refund) (*types.Put, error) {
	item, err := EncodeRefund(after)
	if err != nil {
		return nil, err
	}
	w := stateWrite[refund.Status]{Table: table, Item: item, New: before == nil, To: after.Status,
		Sources: refund.From(after.Status), notAllowed: refund.ErrNotAllowed}
	if before != nil {
		w.Version, w.From = before.Version, before.Status
	}
	return w.put()
}
