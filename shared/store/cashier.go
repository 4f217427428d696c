package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/estatepay/estatepay/shared/domain/bill"
	"github.com/estatepay/estatepay/shared/domain/cashier"
	"github.com/estatepay/estatepay/shared/domain/order"
)

// Cashier is the DynamoDB adapter of the cashier desk's entries (C8), in
// the BillsTable beside the bills they pay:
//
//	ENTRY#<id>  / ENTRY  an entry; comm_pk "E#<company>#<community>", comm_sk at#id
//	                     (a community's entries, newest first); house_pk
//	                     "E#<company>#<house>", house_sk at#id (a house's)
//	LINK#<order> / LINK  the code payment <order> is linked by entry_id
//
// Record is ONE TransactWriteItems: the entry (new), for a code payment the
// link item (new: a payment is never linked twice, whoever races) and a
// ConditionCheck of the order in the OrdersTable (paid, the entry's company,
// community and amount, no bills of its own, nothing refunded), and every
// bill written from bill.PlanPayBy under its read version and
// bill.From(PAID). Reverse is one too: the entry ACTIVE → REVERSED at its
// version, its bills PAID by it → UNPAID (bill.PlanReopen), the link item
// deleted (the payment may be linked again, correctly).
type Cashier struct {
	DB     *dynamodb.Client
	Table  string // BillsTable
	Orders string // OrdersTable
}

// CashierRepo returns the cashier desk's repository.
func (s *Store) CashierRepo() *Cashier { return &Cashier{DB: s.DB, Table: s.Bills, Orders: s.Orders} }

type entryItem struct {
	PK          string   `dynamodbav:"pk"`
	SK          string   `dynamodbav:"sk"`
	ID          string   `dynamodbav:"id"`
	CompanyID   string   `dynamodbav:"company_id"`
	CommunityID string   `dynamodbav:"community_id"`
	HouseID     string   `dynamodbav:"house_id"`
	BillIDs     []string `dynamodbav:"bill_ids"`
	TotalFen    int64    `dynamodbav:"total_fen"`
	Method      string   `dynamodbav:"method"`
	OrderID     string   `dynamodbav:"order_id,omitempty"`
	Note        string   `dynamodbav:"note,omitempty"`
	By          string   `dynamodbav:"by"`
	ByName      string   `dynamodbav:"by_name,omitempty"`
	At          string   `dynamodbav:"at"`
	Status      string   `dynamodbav:"status"`
	Version     int64    `dynamodbav:"version"`
	ReversedBy  string   `dynamodbav:"reversed_by,omitempty"`
	ReversedWhy string   `dynamodbav:"reversed_why,omitempty"`
	ReversedAt  string   `dynamodbav:"reversed_at,omitempty"`
	CommPK      string   `dynamodbav:"comm_pk"`
	CommSK      string   `dynamodbav:"comm_sk"`
	HousePK     string   `dynamodbav:"house_pk"`
	HouseSK     string   `dynamodbav:"house_sk"`
}

func entryKey(id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": str("ENTRY#" + id), "sk": str("ENTRY")}
}

func linkKey(orderID string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": str("LINK#" + orderID), "sk": str("LINK")}
}

func entryHousePartition(companyID, houseID string) string { return "E#" + companyID + "#" + houseID }

func encodeEntry(e cashier.Entry) (map[string]types.AttributeValue, error) {
	sk := ts(e.At) + "#" + e.ID
	return attributevalue.MarshalMap(entryItem{PK: "ENTRY#" + e.ID, SK: "ENTRY", ID: e.ID, CompanyID: e.CompanyID, CommunityID: e.CommunityID,
		HouseID: e.HouseID, BillIDs: e.BillIDs, TotalFen: e.TotalFen, Method: string(e.Method), OrderID: e.OrderID, Note: e.Note,
		By: e.By, ByName: e.ByName, At: ts(e.At), Status: string(e.Status), Version: e.Version,
		ReversedBy: e.ReversedBy, ReversedWhy: e.ReversedWhy, ReversedAt: ts(e.ReversedAt),
		CommPK: CommunityPartition("E", e.CompanyID, e.CommunityID), CommSK: sk,
		HousePK: entryHousePartition(e.CompanyID, e.HouseID), HouseSK: sk})
}

func decodeEntry(item map[string]types.AttributeValue) (cashier.Entry, error) {
	var it entryItem
	if err := attributevalue.UnmarshalMap(item, &it); err != nil {
		return cashier.Entry{}, fmt.Errorf("store: decode entry: %w", err)
	}
	return cashier.Entry{ID: it.ID, CompanyID: it.CompanyID, CommunityID: it.CommunityID, HouseID: it.HouseID, BillIDs: it.BillIDs,
		TotalFen: it.TotalFen, Method: cashier.Method(it.Method), OrderID: it.OrderID, Note: it.Note, By: it.By, ByName: it.ByName,
		At: parseTS(it.At), Status: cashier.Status(it.Status), Version: it.Version,
		ReversedBy: it.ReversedBy, ReversedWhy: it.ReversedWhy, ReversedAt: parseTS(it.ReversedAt)}, nil
}

func (r *Cashier) bills() *Bills { return &Bills{DB: r.DB, Table: r.Table} }

// Get reads an entry of companyID (another company's is cashier.ErrNotFound).
func (r *Cashier) Get(ctx context.Context, companyID, id string) (cashier.Entry, error) {
	res, err := r.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(r.Table), Key: entryKey(id), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return cashier.Entry{}, fmt.Errorf("store: get entry: %w", err)
	}
	if len(res.Item) == 0 {
		return cashier.Entry{}, cashier.ErrNotFound
	}
	e, err := decodeEntry(res.Item)
	if err == nil && (e.CompanyID != companyID || companyID == "") {
		return cashier.Entry{}, cashier.ErrNotFound
	}
	return e, err
}

// Bills reads bills by id as one consistent snapshot (a receipt's items).
func (r *Cashier) Bills(ctx context.Context, ids []string) ([]bill.Bill, error) {
	return r.bills().getAll(ctx, "read", ids)
}

// cancellation is the code of each item of a cancelled transaction ("" for
// a transaction that was not cancelled).
func cancellation(err error) []string {
	var tce *types.TransactionCanceledException
	if !errors.As(err, &tce) {
		return nil
	}
	out := make([]string, len(tce.CancellationReasons))
	for i, r := range tce.CancellationReasons {
		out[i] = aws.ToString(r.Code)
	}
	return out
}

// Record stores a new entry: draft (id, company, community, house, method,
// order id, note, cashier) over the bills billIDs at `at`, all in one
// transaction (see Cashier). The domain decides: cashier.New (the bills are
// the house's; the total is their sum), Entry.CheckLink (the order as read),
// bill.PlanPayBy (each bill open: not paid, waived or held by a live
// reservation). Refusals: cashier.ErrInvalid, cashier.ErrLink (the order),
// cashier.ErrLinked (another active entry links the order), a
// *bill.RefusedError (bill.ErrPaid, bill.ErrReserved — 正在支付,
// bill.ErrNotAllowed, bill.ErrNotFound). Losing a race on a bill re-reads
// and re-plans, so the loser ends with the domain's refusal.
func (r *Cashier) Record(ctx context.Context, draft cashier.Entry, billIDs []string, at time.Time) (cashier.Entry, error) {
	ids, err := bill.CheckIDs(billIDs)
	if err != nil {
		return cashier.Entry{}, fmt.Errorf("%w: 一次须选择 1 到 %d 笔账单", cashier.ErrInvalid, bill.MaxBatch)
	}
	for attempt := 0; ; attempt++ {
		read, err := r.bills().getAll(ctx, "pay", ids)
		if err != nil {
			return cashier.Entry{}, err
		}
		e, err := cashier.New(draft, read, at)
		if err != nil {
			return cashier.Entry{}, err
		}
		if e.Method == cashier.Code {
			if err := r.checkOrder(ctx, e); err != nil {
				return cashier.Entry{}, err
			}
		}
		p, err := bill.PlanPayBy(read, e.Payer(), at)
		if err != nil {
			return cashier.Entry{}, err
		}
		if len(p.Unchanged) > 0 {
			return cashier.Entry{}, fmt.Errorf("store: entry id %s already paid bills", e.ID)
		}
		items, err := r.recordItems(e, p)
		if err != nil {
			return cashier.Entry{}, err
		}
		_, err = r.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
		if err == nil {
			return e, nil
		}
		reasons := cancellation(err)
		var conflict *types.TransactionConflictException
		switch {
		case reasons == nil && !errors.As(err, &conflict):
			return cashier.Entry{}, fmt.Errorf("store: record entry: %w", err)
		case len(reasons) > 0 && reasons[0] == "ConditionalCheckFailed":
			return cashier.Entry{}, fmt.Errorf("store: entry id %s exists", e.ID)
		case e.Method == cashier.Code && len(reasons) > 2 && reasons[1] == "ConditionalCheckFailed":
			return cashier.Entry{}, r.linkedBy(ctx, e.OrderID)
		case e.Method == cashier.Code && len(reasons) > 2 && reasons[2] == "ConditionalCheckFailed":
			// The order changed since it was read: checkOrder says how (or
			// the next attempt succeeds).
			if err := r.checkOrder(ctx, e); err != nil {
				return cashier.Entry{}, err
			}
		}
		if attempt+1 >= maxAttempts {
			return cashier.Entry{}, ErrBillsBusy
		}
	}
}

// checkOrder reads the linked order and lets the entry decide; a missing
// order is "not found" as the domain words it.
func (r *Cashier) checkOrder(ctx context.Context, e cashier.Entry) error {
	o, err := (&Orders{DB: r.DB, Table: r.Orders}).Get(ctx, e.OrderID)
	if errors.Is(err, order.ErrNotFound) {
		o = order.Order{ID: e.OrderID}
	} else if err != nil {
		return err
	}
	return e.CheckLink(o)
}

// linkedBy is the refusal of a payment linked already, naming the entry.
func (r *Cashier) linkedBy(ctx context.Context, orderID string) error {
	res, err := r.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(r.Table), Key: linkKey(orderID), ConsistentRead: aws.Bool(true)})
	if err == nil {
		if v, ok := res.Item["entry_id"].(*types.AttributeValueMemberS); ok {
			return fmt.Errorf("%w: 该收款记录已关联收款单 %s，不能重复关联", cashier.ErrLinked, v.Value)
		}
	}
	return fmt.Errorf("%w: 该收款记录已关联其他收款单，不能重复关联", cashier.ErrLinked)
}

func (r *Cashier) recordItems(e cashier.Entry, p bill.Plan) ([]types.TransactWriteItem, error) {
	item, err := encodeEntry(e)
	if err != nil {
		return nil, err
	}
	items := []types.TransactWriteItem{{Put: &types.Put{TableName: aws.String(r.Table), Item: item,
		ConditionExpression: aws.String("attribute_not_exists(pk)")}}}
	if e.Method == cashier.Code {
		link := linkKey(e.OrderID)
		link["order_id"], link["entry_id"], link["company_id"], link["at"] = str(e.OrderID), str(e.ID), str(e.CompanyID), str(ts(e.At))
		items = append(items, types.TransactWriteItem{Put: &types.Put{TableName: aws.String(r.Table), Item: link,
			ConditionExpression: aws.String("attribute_not_exists(pk)")}})
		cond := expression.Name("status").Equal(expression.Value(order.Paid)).
			And(expression.Name("company_id").Equal(expression.Value(e.CompanyID))).
			And(expression.Name("community_id").Equal(expression.Value(e.CommunityID))).
			And(expression.Name("amount_fen").Equal(expression.Value(e.TotalFen))).
			And(expression.AttributeNotExists(expression.Name("bill_ids"))).
			And(expression.Or(expression.AttributeNotExists(expression.Name("refund_fen")), expression.Name("refund_fen").Equal(expression.Value(0))))
		ex, err := expression.NewBuilder().WithCondition(cond).Build()
		if err != nil {
			return nil, err
		}
		items = append(items, types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{TableName: aws.String(r.Orders),
			Key: map[string]types.AttributeValue{"pk": str(e.OrderID)}, ConditionExpression: ex.Condition(),
			ExpressionAttributeNames: ex.Names(), ExpressionAttributeValues: ex.Values()}})
	}
	for i, after := range p.Changed {
		put, err := r.bills().conditionalPut(p.Read[i], after)
		if err != nil {
			return nil, err
		}
		items = append(items, types.TransactWriteItem{Put: put})
	}
	return items, nil
}

// Reverse reverses an entry of companyID: by (a staff id) with why at `at`,
// in one transaction (see Cashier). cashier.ErrNotFound for none (or another
// company's), cashier.ErrReversed for a second reversal, cashier.ErrInvalid
// for a missing reason. Returns the entry as stored after.
func (r *Cashier) Reverse(ctx context.Context, companyID, id, by, why string, at time.Time) (cashier.Entry, error) {
	for attempt := 0; ; attempt++ {
		e, err := r.Get(ctx, companyID, id)
		if err != nil {
			return cashier.Entry{}, err
		}
		before := e
		if err := e.Reverse(by, why, at); err != nil {
			return cashier.Entry{}, err
		}
		read, err := r.bills().getAll(ctx, "reopen", e.BillIDs)
		if err != nil {
			return cashier.Entry{}, err
		}
		p, err := bill.PlanReopen(read, e.Payer(), "staff:"+by, "收银冲正（收款单 "+e.ID+"）："+e.ReversedWhy, at)
		if err != nil {
			return cashier.Entry{}, err
		}
		item, err := encodeEntry(e)
		if err != nil {
			return cashier.Entry{}, err
		}
		from := cashier.From(cashier.Reversed)
		ops := make([]expression.OperandBuilder, 0, len(from))
		for _, s := range from[1:] {
			ops = append(ops, expression.Value(s))
		}
		cond := expression.Name("version").Equal(expression.Value(before.Version)).
			And(expression.Name("status").In(expression.Value(from[0]), ops...))
		ex, err := expression.NewBuilder().WithCondition(cond).Build()
		if err != nil {
			return cashier.Entry{}, err
		}
		items := []types.TransactWriteItem{{Put: &types.Put{TableName: aws.String(r.Table), Item: item, ConditionExpression: ex.Condition(),
			ExpressionAttributeNames: ex.Names(), ExpressionAttributeValues: ex.Values()}}}
		for i, after := range p.Changed {
			put, err := r.bills().conditionalPut(p.Read[i], after)
			if err != nil {
				return cashier.Entry{}, err
			}
			items = append(items, types.TransactWriteItem{Put: put})
		}
		if e.OrderID != "" {
			items = append(items, types.TransactWriteItem{Delete: &types.Delete{TableName: aws.String(r.Table), Key: linkKey(e.OrderID),
				ConditionExpression:       aws.String("entry_id = :e"),
				ExpressionAttributeValues: map[string]types.AttributeValue{":e": str(e.ID)}}})
		}
		_, err = r.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
		var conflict *types.TransactionConflictException
		switch {
		case err == nil:
			return e, nil
		case cancellation(err) == nil && !errors.As(err, &conflict):
			return cashier.Entry{}, fmt.Errorf("store: reverse entry: %w", err)
		case attempt+1 >= maxAttempts:
			return cashier.Entry{}, ErrBillsBusy
		}
	}
}

// EntryPage is a page of entries and the cursor of the next ("" at the end).
type EntryPage = Page[cashier.Entry]

// ListByHouse lists a house's entries of companyID, newest first (at most limit).
func (r *Cashier) ListByHouse(ctx context.Context, companyID, houseID, cursor string, limit int32) (EntryPage, error) {
	return r.list(ctx, "house", "house_pk", entryHousePartition(companyID, houseID), cursor, limit)
}

// ListByCommunity lists a community's entries of companyID, newest first.
func (r *Cashier) ListByCommunity(ctx context.Context, companyID, communityID, cursor string, limit int32) (EntryPage, error) {
	return r.list(ctx, "community", "comm_pk", CommunityPartition("E", companyID, communityID), cursor, limit)
}

func (r *Cashier) list(ctx context.Context, index, pkName, pk, cursor string, limit int32) (EntryPage, error) {
	if limit <= 0 || limit > 100 {
		limit = 50
	}
	in := &dynamodb.QueryInput{TableName: aws.String(r.Table), IndexName: aws.String(index),
		KeyConditionExpression:    aws.String(pkName + " = :p"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": str(pk)},
		ScanIndexForward:          aws.Bool(false), Limit: aws.Int32(limit)}
	if cursor != "" {
		start, err := decodeCursor(cursor)
		if err != nil || start[pkName] != pk {
			return EntryPage{}, ErrBadCursor
		}
		in.ExclusiveStartKey = map[string]types.AttributeValue{}
		for k, v := range start {
			in.ExclusiveStartKey[k] = str(v)
		}
	}
	res, err := r.DB.Query(ctx, in)
	if err != nil {
		return EntryPage{}, fmt.Errorf("store: entries: %w", err)
	}
	var out EntryPage
	for _, item := range res.Items {
		e, err := decodeEntry(item)
		if err != nil {
			return out, err
		}
		out.Items = append(out.Items, e)
	}
	if len(res.LastEvaluatedKey) > 0 {
		out.Next = encodeCursor(res.LastEvaluatedKey)
	}
	return out, nil
}

// Linked tells which of the orders an active entry links: order id → entry id.
func (r *Cashier) Linked(ctx context.Context, orderIDs []string) (map[string]string, error) {
	out := map[string]string{}
	for start := 0; start < len(orderIDs); start += 100 {
		keys := make([]map[string]types.AttributeValue, 0, 100)
		seen := map[string]bool{}
		for _, id := range orderIDs[start:min(start+100, len(orderIDs))] {
			if !seen[id] {
				seen[id] = true
				keys = append(keys, linkKey(id))
			}
		}
		req := map[string]types.KeysAndAttributes{r.Table: {Keys: keys, ConsistentRead: aws.Bool(true)}}
		for attempt := 0; len(req) > 0; attempt++ {
			if attempt >= maxAttempts {
				return nil, ErrBillsBusy
			}
			res, err := r.DB.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: req})
			if err != nil {
				return nil, fmt.Errorf("store: links: %w", err)
			}
			for _, item := range res.Responses[r.Table] {
				o, _ := item["order_id"].(*types.AttributeValueMemberS)
				e, _ := item["entry_id"].(*types.AttributeValueMemberS)
				if o != nil && e != nil {
					out[o.Value] = e.Value
				}
			}
			req = res.UnprocessedKeys
		}
	}
	return out, nil
}
