package store

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/estatepay/estatepay/shared/domain/bill"
	"github.com/estatepay/estatepay/shared/domain/house"
)

// BillFilter selects a community's bills. The zero value selects them all.
type BillFilter struct {
	Status   bill.Status // "" any
	Period   string      // YYYY-MM, "" any
	Building string      // "" any
	Unit     string      // with Building only
	HouseID  string      // one house ("" any)
}

var periodRE = regexp.MustCompile(`^[0-9]{4}-(0[1-9]|1[0-2])$`)

// Check reports the first problem with f as an ErrBadFilter (Chinese).
func (f BillFilter) Check() error {
	switch {
	case f.Status != "" && f.Status != bill.Unpaid && f.Status != bill.Reserved && f.Status != bill.Paid && f.Status != bill.Waived:
		return badFilter("状态只能是未缴、支付中、已缴或已减免")
	case f.Period != "" && !periodRE.MatchString(f.Period):
		return badFilter("账期格式应为 YYYY-MM，例如 2026-11")
	case f.Unit != "" && f.Building == "":
		return badFilter("按单元筛选时请同时填写楼栋")
	case strings.ContainsAny(f.Building+f.Unit+f.HouseID, "#\x00"):
		return badFilter("楼栋、单元或房屋不能包含 #")
	case len([]rune(f.Building)) > 16 || len([]rune(f.Unit)) > 16 || len(f.HouseID) > 64:
		return badFilter("楼栋或单元最多 16 个字")
	}
	return nil
}

// billsQuery is one walk over a community's bills: the `house` index for
// one house, else the `community` index (period, then building and unit, as
// a sort-key prefix); the rest as a FilterExpression.
type billsQuery struct {
	in           *dynamodb.QueryInput
	pkName, pk   string
	skName, skLo string // the prefix every sort key of the walk has
}

// MaxBillsPage is the largest page CommunityBills returns.
const MaxBillsPage = 200

func (r *Bills) billsQuery(companyID, communityID string, f BillFilter) (billsQuery, error) {
	if err := f.Check(); err != nil {
		return billsQuery{}, err
	}
	q := billsQuery{}
	var conds []expression.ConditionBuilder
	index := "community"
	if f.HouseID != "" {
		index, q.pkName, q.pk, q.skName = "house", "house_pk", companyID+"#"+f.HouseID, "house_sk"
		if f.Period != "" {
			q.skLo = f.Period + "#"
		}
		// The house index is the company's; the community is checked here.
		conds = append(conds, expression.Name("community_id").Equal(expression.Value(communityID)))
	} else {
		q.pkName, q.pk, q.skName = "comm_pk", CommunityPartition("B", companyID, communityID), "comm_sk"
		if f.Period != "" {
			q.skLo = f.Period + "#"
			if f.Building != "" {
				q.skLo += house.SortPrefix(f.Building, f.Unit)
			}
		}
	}
	if f.Building != "" && (f.Period == "" || f.HouseID != "") {
		conds = append(conds, expression.Name("building").Equal(expression.Value(strings.TrimSpace(f.Building))))
		if f.Unit != "" {
			conds = append(conds, expression.Name("unit").Equal(expression.Value(strings.TrimSpace(f.Unit))))
		}
	}
	if f.Status != "" {
		conds = append(conds, expression.Name("status").Equal(expression.Value(f.Status)))
	}
	key := expression.Key(q.pkName).Equal(expression.Value(q.pk))
	if q.skLo != "" {
		key = key.And(expression.Key(q.skName).BeginsWith(q.skLo))
	}
	b := expression.NewBuilder().WithKeyCondition(key)
	switch len(conds) {
	case 0:
	case 1:
		b = b.WithFilter(conds[0])
	default:
		b = b.WithFilter(expression.And(conds[0], conds[1], conds[2:]...))
	}
	ex, err := b.Build()
	if err != nil {
		return billsQuery{}, err
	}
	q.in = &dynamodb.QueryInput{TableName: aws.String(r.Table), IndexName: aws.String(index),
		KeyConditionExpression: ex.KeyCondition(), FilterExpression: ex.Filter(),
		ExpressionAttributeNames: ex.Names(), ExpressionAttributeValues: ex.Values()}
	return q, nil
}

// positionOf is the index key of one item of the walk (its cursor).
func (q billsQuery) positionOf(item map[string]types.AttributeValue) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": item["pk"], "sk": item["sk"], q.pkName: item[q.pkName], q.skName: item[q.skName]}
}

func (q billsQuery) start(cursor string) (map[string]types.AttributeValue, error) {
	m, err := decodeCursor(cursor)
	if err != nil || len(m) != 4 || m[q.pkName] != q.pk || !strings.HasPrefix(m[q.skName], q.skLo) || m["pk"] == "" || m["sk"] == "" {
		return nil, ErrBadCursor
	}
	out := map[string]types.AttributeValue{}
	for k, v := range m {
		out[k] = str(v)
	}
	return out, nil
}

// CommunityBills returns up to limit (1..MaxBillsPage) of the community's
// bills of companyID that pass f, after cursor ("" from the start): by
// period, building, unit, room, fee item (a house's: by period and fee
// item). Like QueryRecords it reads on while a filter leaves items out, at
// most maxReadsPerPage Query calls, then returns a short page with a cursor.
func (r *Bills) CommunityBills(ctx context.Context, companyID, communityID string, f BillFilter, cursor string, limit int) (Page[bill.Bill], error) {
	if limit < 1 || limit > MaxBillsPage {
		return Page[bill.Bill]{}, badFilter(fmt.Sprintf("每页条数应为 1-%d", MaxBillsPage))
	}
	q, err := r.billsQuery(companyID, communityID, f)
	if err != nil {
		return Page[bill.Bill]{}, err
	}
	var start map[string]types.AttributeValue
	if cursor != "" {
		if start, err = q.start(cursor); err != nil {
			return Page[bill.Bill]{}, err
		}
	}
	var page Page[bill.Bill]
	narrows := q.in.FilterExpression != nil
	for reads := 1; ; reads++ {
		in := *q.in
		in.ExclusiveStartKey = start
		// One item more than the page needs: when it comes, there is a next
		// page; when it does not, the page is the last (no empty 下一页).
		batch := int32(limit - len(page.Items) + 1)
		if narrows && batch < readBatch {
			batch = readBatch
		}
		in.Limit = aws.Int32(batch)
		res, err := r.DB.Query(ctx, &in)
		if err != nil {
			return page, fmt.Errorf("store: bills: %w", err)
		}
		for i, item := range res.Items {
			b, err := DecodeBill(item)
			if err != nil {
				return page, err
			}
			page.Items = append(page.Items, b)
			if len(page.Items) == limit {
				if len(res.LastEvaluatedKey) > 0 || i < len(res.Items)-1 {
					page.Next = encodeCursor(q.positionOf(item))
				}
				return page, nil
			}
		}
		if len(res.LastEvaluatedKey) == 0 {
			return page, nil
		}
		start = res.LastEvaluatedKey
		if reads >= maxReadsPerPage {
			page.Next = encodeCursor(start)
			return page, nil
		}
	}
}

// EachCommunityBill calls fn with every bill that passes f, in
// CommunityBills' order, one Query page in memory at a time (the CSV export
// streams from it). It stops at fn's first error and returns it.
func (r *Bills) EachCommunityBill(ctx context.Context, companyID, communityID string, f BillFilter, fn func(bill.Bill) error) error {
	q, err := r.billsQuery(companyID, communityID, f)
	if err != nil {
		return err
	}
	var start map[string]types.AttributeValue
	for {
		in := *q.in
		in.ExclusiveStartKey = start
		in.Limit = aws.Int32(500)
		res, err := r.DB.Query(ctx, &in)
		if err != nil {
			return fmt.Errorf("store: bills: %w", err)
		}
		for _, item := range res.Items {
			b, err := DecodeBill(item)
			if err != nil {
				return err
			}
			if err := fn(b); err != nil {
				return err
			}
		}
		if len(res.LastEvaluatedKey) == 0 {
			return nil
		}
		start = res.LastEvaluatedKey
	}
}
