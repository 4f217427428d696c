package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"

	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/calendar"
	"github.com/estatepay/estatepay/shared/domain/refund"
)

// Succeeded refunds share the OrdersTable's `settle` index with the paid
// orders, under partitions of their own:
//
//	settle_pk RF#<channel>#<merchant>#<day>#<0..7>, settle_sk succeeded_at#id
//
// where day is the Asia/Shanghai business day the refund succeeded (the day
// the providers' bills list it) and the shard is the refund id's, as for
// orders. An order partition starts with its channel, never "RF#", so the
// two never meet. The index projects what a statement and a reconciliation
// need of a refund (amount_fen, method, merchant_id, channel, company_id,
// status, version; the time is in the sort key): no new attribute in the
// index's projection.

func settleRefundPK(ch domain.Channel, merchant string, day calendar.Day, shard string) string {
	return "RF#" + string(ch) + "#" + merchant + "#" + string(day) + "#" + shard
}

// SettleRefundPartition names one settle index partition of the refunds that
// succeeded on one merchant × channel × business day.
func SettleRefundPartition(ch domain.Channel, merchant string, day calendar.Day, shard int) string {
	return settleRefundPK(ch, merchant, day, strconv.Itoa(shard))
}

// settledRefundItem is what the settle index holds of a refund.
type settledRefundItem struct {
	ID          string         `dynamodbav:"pk"`
	SettleSK    string         `dynamodbav:"settle_sk"`
	CompanyID   string         `dynamodbav:"company_id"`
	CommunityID string         `dynamodbav:"community_id"`
	Channel     domain.Channel `dynamodbav:"channel"`
	IfaceID     string         `dynamodbav:"iface_id"`
	MerchantID  string         `dynamodbav:"merchant_id"`
	Method      string         `dynamodbav:"method"`
	AmountFen   int64          `dynamodbav:"amount_fen"`
	Status      refund.Status  `dynamodbav:"status"`
	Version     int64          `dynamodbav:"version"`
}

// RefundsSettledAfter reads one refund partition of the settle index
// (SettleRefundPartition) from after the sort key `after` ("" from the
// start), at most limit refunds in the order they succeeded; more says
// whether the partition may hold more. The refunds carry what the index
// projects: id, company, community, channel, interface, merchant, method,
// amount, status, version and SucceededAt (from the sort key) — not the
// order id or the reason (GetRefund has them).
func (r *Orders) RefundsSettledAfter(ctx context.Context, partition, after string, limit int32) (refunds []refund.Refund, more bool, err error) {
	res, err := r.DB.Query(ctx, r.settledAfter(partition, after, limit))
	if err != nil {
		return nil, false, fmt.Errorf("store: settled refunds: %w", err)
	}
	for _, item := range res.Items {
		var it settledRefundItem
		if err := attributevalue.UnmarshalMap(item, &it); err != nil {
			return nil, false, fmt.Errorf("store: settled refund: %w", err)
		}
		at, _, _ := strings.Cut(it.SettleSK, "#")
		refunds = append(refunds, refund.Refund{ID: it.ID, CompanyID: it.CompanyID, CommunityID: it.CommunityID, Channel: it.Channel,
			IfaceID: it.IfaceID, MerchantID: it.MerchantID, Method: it.Method, AmountFen: it.AmountFen, Status: it.Status, Version: it.Version,
			SucceededAt: parseTS(at)})
	}
	return refunds, len(res.LastEvaluatedKey) > 0, nil
}
