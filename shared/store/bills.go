package store

import (
	"context"
	"fmt"

	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/estatepay/estatepay/shared/domain/bill"
	"github.com/estatepay/estatepay/shared/domain/calendar"
	"github.com/estatepay/estatepay/shared/domain/house"
)

// Bills is the DynamoDB adapter of the bill repository (bills.Repository) on
// the BillsTable. One item per bill, pk "BILL#<id>", sk "BILL", written whole
// (its audit trail included) under an optimistic lock on its version and
// the transition table (bill.From). The sparse index `house` (house_pk
// company#house, house_sk period#fee item#id) lists a house's bills.
// ReserveAll and PayAll read the bills in one TransactGetItems and write
// them in one conditional TransactWriteItems.
type Bills struct {
	DB    *dynamodb.Client
	Table string
}

// BillRepo returns the bill repository on the store's bills table.
func (s *Store) BillRepo() *Bills { return &Bills{DB: s.DB, Table: s.Bills} }

type billAudit struct {
	At     string      `dynamodbav:"at"`
	By     string      `dynamodbav:"by"`
	Action string      `dynamodbav:"action"`
	From   bill.Status `dynamodbav:"from,omitempty"`
	To     bill.Status `dynamodbav:"to"`
	Why    string      `dynamodbav:"why,omitempty"`
}

type billItem struct {
	PK            string      `dynamodbav:"pk"`
	SK            string      `dynamodbav:"sk"`
	ID            string      `dynamodbav:"id"`
	CompanyID     string      `dynamodbav:"company_id"`
	CommunityID   string      `dynamodbav:"community_id"`
	HouseID       string      `dynamodbav:"house_id"`
	Building      string      `dynamodbav:"building,omitempty"`
	Unit          string      `dynamodbav:"unit,omitempty"`
	Room          string      `dynamodbav:"room,omitempty"`
	FeeItem       string      `dynamodbav:"fee_item"`
	Period        string      `dynamodbav:"period"`
	AmountFen     int64       `dynamodbav:"amount_fen"`
	DueDate       string      `dynamodbav:"due_date"`
	Status        bill.Status `dynamodbav:"status"`
	Version       int64       `dynamodbav:"version"`
	ReservedBy    string      `dynamodbav:"reserved_by,omitempty"`
	ReservedUntil string      `dynamodbav:"reserved_until,omitempty"`
	PaidOrder     string      `dynamodbav:"paid_order,omitempty"`
	PaidEntry     string      `dynamodbav:"paid_entry,omitempty"`
	PaidAt        string      `dynamodbav:"paid_at,omitempty"`
	WaivedAt      string      `dynamodbav:"waived_at,omitempty"`
	CreatedAt     string      `dynamodbav:"created_at"`
	Audit         []billAudit `dynamodbav:"audit"`

	HousePK string `dynamodbav:"house_pk"`
	HouseSK string `dynamodbav:"house_sk"`
	CommPK  string `dynamodbav:"comm_pk"`
	CommSK  string `dynamodbav:"comm_sk"`

	// The sparse `overdue` index: present while the bill is owed (neither
	// paid nor waived), so a reminder run Queries od_pk = company#community
	// AND od_sk < today (OverdueSK), never a Scan.
	OverduePK string `dynamodbav:"od_pk,omitempty"`
	OverdueSK string `dynamodbav:"od_sk,omitempty"`
}

func billKey(id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": str("BILL#" + id), "sk": str("BILL")}
}

// EncodeBill writes a bill as it is stored, index keys included.
func EncodeBill(b bill.Bill) (map[string]types.AttributeValue, error) {
	it := billItem{PK: "BILL#" + b.ID, SK: "BILL", ID: b.ID, CompanyID: b.CompanyID, CommunityID: b.CommunityID, HouseID: b.HouseID,
		Building: b.Building, Unit: b.Unit, Room: b.Room,
		FeeItem: b.FeeItem, Period: b.Period, AmountFen: b.AmountFen, DueDate: string(b.DueDate), Status: b.Status, Version: b.Version,
		ReservedBy: b.ReservedBy, ReservedUntil: ts(b.ReservedUntil), PaidOrder: b.PaidBy.OrderID, PaidEntry: b.PaidBy.EntryID,
		PaidAt: ts(b.PaidAt), WaivedAt: ts(b.WaivedAt), CreatedAt: ts(b.CreatedAt),
		HousePK: b.CompanyID + "#" + b.HouseID, HouseSK: b.Period + "#" + b.FeeItem + "#" + b.ID,
		CommPK: CommunityPartition("B", b.CompanyID, b.CommunityID), CommSK: BillCommunitySK(b)}
	if !b.Status.Final() && b.DueDate != "" {
		it.OverduePK, it.OverdueSK = OverduePartition(b.CompanyID, b.CommunityID), OverdueSK(b)
	}
	it.Audit = make([]billAudit, len(b.Audit))
	for i, e := range b.Audit {
		it.Audit[i] = billAudit{At: ts(e.At), By: e.By, Action: e.Action, From: e.From, To: e.To, Why: e.Why}
	}
	return attributevalue.MarshalMap(it)
}

// BillCommunitySK is a bill's sort key in the `community` index (partition
// CommunityPartition("B", company, community)): period, then the house's
// place (house.SortKey), fee item and id. A period filter is a prefix of it,
// and a period with a building (and unit) a longer one.
func BillCommunitySK(b bill.Bill) string {
	return b.Period + "#" + house.SortKey(b.Building, b.Unit, b.Room) + "#" + b.FeeItem + "#" + b.ID
}

// OverduePartition is a community's partition of the `overdue` index.
func OverduePartition(companyID, communityID string) string { return companyID + "#" + communityID }

// OverdueSK is an owed bill's sort key in the `overdue` index: due date,
// house, bill. Every key below the day's own date ("2026-12-07") is a bill
// due before that day.
func OverdueSK(b bill.Bill) string { return string(b.DueDate) + "#" + b.HouseID + "#" + b.ID }

// DecodeBill reads a bill from a stored item (also a stream image).
func DecodeBill(item map[string]types.AttributeValue) (bill.Bill, error) {
	var it billItem
	if err := attributevalue.UnmarshalMap(item, &it); err != nil {
		return bill.Bill{}, fmt.Errorf("store: decode bill: %w", err)
	}
	b := bill.Bill{ID: it.ID, CompanyID: it.CompanyID, CommunityID: it.CommunityID, HouseID: it.HouseID, FeeItem: it.FeeItem,
		Building: it.Building, Unit: it.Unit, Room: it.Room,
		Period: it.Period, AmountFen: it.AmountFen, DueDate: calendar.Day(it.DueDate), Status: it.Status, Version: it.Version,
		ReservedBy: it.ReservedBy, ReservedUntil: parseTS(it.ReservedUntil), PaidBy: bill.Payer{OrderID: it.PaidOrder, EntryID: it.PaidEntry},
		PaidAt: parseTS(it.PaidAt), WaivedAt: parseTS(it.WaivedAt), CreatedAt: parseTS(it.CreatedAt)}
	for _, e := range it.Audit {
		b.Audit = append(b.Audit, bill.Entry{At: parseTS(e.At), By: e.By, Action: e.Action, From: e.From, To: e.To, Why: e.Why})
	}
	return b, nil
}

// Create stores each new bill once; a bill whose id exists is left as stored.
func (r *Bills) Create(ctx context.Context, bills ...bill.Bill) error {
	for _, b := range bills {
		item, err := EncodeBill(b)
		if err != nil {
			return err
		}
		_, err = r.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(r.Table), Item: item,
			ConditionExpression: aws.String("attribute_not_exists(pk)")})
		if err != nil && !isConditionFailed(err) {
			return fmt.Errorf("store: create bill %s: %w", b.ID, err)
		}
	}
	return nil
}

// Get reads a bill (strongly consistent).
func (r *Bills) Get(ctx context.Context, id string) (bill.Bill, error) {
	res, err := r.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(r.Table), Key: billKey(id), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return bill.Bill{}, fmt.Errorf("store: get bill: %w", err)
	}
	if len(res.Item) == 0 {
		return bill.Bill{}, bill.ErrNotFound
	}
	return DecodeBill(res.Item)
}

// ListByHouse lists a house's bills from the house index, every page.
func (r *Bills) ListByHouse(ctx context.Context, companyID, houseID string) ([]bill.Bill, error) {
	in := &dynamodb.QueryInput{TableName: aws.String(r.Table), IndexName: aws.String("house"),
		KeyConditionExpression:    aws.String("house_pk = :h"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":h": str(companyID + "#" + houseID)}}
	var out []bill.Bill
	for {
		res, err := r.DB.Query(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("store: bills of house: %w", err)
		}
		for _, item := range res.Items {
			b, err := DecodeBill(item)
			if err != nil {
				return nil, err
			}
			out = append(out, b)
		}
		if len(res.LastEvaluatedKey) == 0 {
			return out, nil
		}
		in.ExclusiveStartKey = res.LastEvaluatedKey
	}
}

// ReserveAll: see bills.Repository.
func (r *Bills) ReserveAll(ctx context.Context, orderID string, billIDs []string, until, now time.Time) ([]bill.Bill, error) {
	return r.batch(ctx, "reserve", billIDs, func(bs []bill.Bill) (bill.Plan, error) { return bill.PlanReserve(bs, orderID, until, now) })
}

// ReleaseAll: see bills.Repository.
func (r *Bills) ReleaseAll(ctx context.Context, orderID string, billIDs []string, at time.Time) ([]bill.Bill, error) {
	return r.batch(ctx, "release", billIDs, func(bs []bill.Bill) (bill.Plan, error) { return bill.PlanRelease(bs, orderID, at), nil })
}

// PayAll: see bills.Repository.
func (r *Bills) PayAll(ctx context.Context, orderID string, billIDs []string, at time.Time) ([]bill.Bill, error) {
	return r.batch(ctx, "pay", billIDs, func(bs []bill.Bill) (bill.Plan, error) { return bill.PlanPay(bs, orderID, at) })
}

// ErrBillsBusy: a batch kept losing races to other writers of its bills.
var ErrBillsBusy = bill.ErrBusy

// batch reads the bills in one TransactGetItems, lets the domain plan the
// batch, and writes it as one TransactWriteItems: each changed bill under
// its read version and bill.From(new status), each unchanged one checked at
// its read version. A cancelled transaction (someone wrote one of the bills
// meanwhile) re-reads and re-plans, so the loser of a race ends with the
// domain's refusal.
func (r *Bills) batch(ctx context.Context, op string, ids []string, planFn func([]bill.Bill) (bill.Plan, error)) ([]bill.Bill, error) {
	ids, err := bill.CheckIDs(ids)
	if err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		read, err := r.getAll(ctx, op, ids)
		if err != nil {
			return nil, err
		}
		p, err := planFn(read)
		if err != nil {
			return nil, err
		}
		if len(p.Changed) == 0 {
			return read, nil
		}
		items := make([]types.TransactWriteItem, 0, len(ids))
		for i, after := range p.Changed {
			put, err := r.conditionalPut(p.Read[i], after)
			if err != nil {
				return nil, err
			}
			items = append(items, types.TransactWriteItem{Put: put})
		}
		for _, b := range p.Unchanged {
			items = append(items, types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{TableName: aws.String(r.Table), Key: billKey(b.ID),
				ConditionExpression:       aws.String("version = :v"),
				ExpressionAttributeValues: map[string]types.AttributeValue{":v": num(b.Version)}}})
		}
		_, err = r.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
		switch {
		case err == nil:
			byID := map[string]bill.Bill{}
			for _, b := range append(p.Changed, p.Unchanged...) {
				byID[b.ID] = b
			}
			out := make([]bill.Bill, len(ids))
			for i, id := range ids {
				out[i] = byID[id]
			}
			return out, nil
		case isTxLost(err):
			if attempt+1 >= maxAttempts {
				return nil, ErrBillsBusy
			}
		default:
			return nil, fmt.Errorf("store: %s bills: %w", op, err)
		}
	}
}

func (r *Bills) conditionalPut(before, after bill.Bill) (*types.Put, error) {
	item, err := EncodeBill(after)
	if err != nil {
		return nil, err
	}
	// A bill's write is always a change of state (bill plans only hold
	// changes): the status condition applies even when it stays the same
	// (RESERVED → RESERVED: reserved again).
	w := stateWrite[bill.Status]{Table: r.Table, Item: item, Version: before.Version, From: "", To: after.Status,
		Sources: bill.From(after.Status), notAllowed: bill.ErrNotAllowed}
	return w.put()
}

// getAll reads the bills as one consistent snapshot; missing ones refuse the batch.
func (r *Bills) getAll(ctx context.Context, op string, ids []string) ([]bill.Bill, error) {
	gets := make([]types.TransactGetItem, len(ids))
	for i, id := range ids {
		gets[i] = types.TransactGetItem{Get: &types.Get{TableName: aws.String(r.Table), Key: billKey(id)}}
	}
	res, err := r.DB.TransactGetItems(ctx, &dynamodb.TransactGetItemsInput{TransactItems: gets})
	if err != nil {
		return nil, fmt.Errorf("store: read bills: %w", err)
	}
	out := make([]bill.Bill, 0, len(ids))
	var missing []string
	for i, resp := range res.Responses {
		if len(resp.Item) == 0 {
			missing = append(missing, ids[i])
			continue
		}
		b, err := DecodeBill(resp.Item)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	if len(missing) > 0 {
		return nil, bill.NotFound(op, missing)
	}
	return out, nil
}
