package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/estatepay/estatepay/shared/domain/bill"
	"github.com/estatepay/estatepay/shared/domain/notice"
	"github.com/estatepay/estatepay/shared/domain/order"
	"github.com/estatepay/estatepay/shared/domain/refund"
)

// OrderChange is an order written over the state it was read in (Before nil:
// a new order).
type OrderChange struct {
	Before *order.Order
	After  order.Order
}

// RefundChange is a refund written over the state it was read in (Before
// nil: a new refund).
type RefundChange struct {
	Before *refund.Refund
	After  refund.Refund
}

// Unit is one change that spans aggregates — a notice payment confirmed
// (the order and its bills), a refund asked (the order and the refund), a
// refund confirmed (the refund, the order and the bills it reopens) — and
// is written as ONE TransactWriteItems: every item conditional on the
// version it was read at and on its aggregate's transition table, so either
// all of it happens or none of it does.
type Unit struct {
	Orders  []OrderChange
	Bills   bill.Plan
	Refunds []RefundChange
	// Unlinked are code payments no cashier entry may link (checked in the
	// same transaction: no LINK#<order> item): a refund of a payment that
	// pays bills at the desk would leave them paid with the money gone.
	Unlinked []string
}

// ErrUnitConflict: something the unit read was changed before it was
// written; nothing was written. Read again and decide again.
var ErrUnitConflict = errors.New("store: changed concurrently, nothing written")

// Ledger commits units across the orders and bills tables.
type Ledger struct {
	DB     *dynamodb.Client
	Orders string // OrdersTable (orders and refunds)
	Bills  string // BillsTable
}

// LedgerRepo returns the ledger on the store's tables.
func (s *Store) LedgerRepo() *Ledger { return &Ledger{DB: s.DB, Orders: s.Orders, Bills: s.Bills} }

// Commit writes u as one transaction; ErrUnitConflict when any condition failed.
func (l *Ledger) Commit(ctx context.Context, u Unit) error {
	items := make([]types.TransactWriteItem, 0, len(u.Orders)+len(u.Refunds)+len(u.Bills.Changed)+len(u.Bills.Unchanged))
	for _, c := range u.Orders {
		put, err := orderPut(l.Orders, c.Before, c.After)
		if err != nil {
			return err
		}
		items = append(items, types.TransactWriteItem{Put: put})
	}
	for _, c := range u.Refunds {
		if c.After.MerchantID == "" {
			// A refund stored before refunds carried their payment's merchant
			// and method takes them from its order in the same unit (a refund
			// succeeds with its order), so it is settled on its day.
			for _, o := range u.Orders {
				if o.After.ID == c.After.OrderID {
					c.After.MerchantID, c.After.Method = o.After.MerchantID, o.After.Method
				}
			}
		}
		put, err := refundPut(l.Orders, c.Before, c.After)
		if err != nil {
			return err
		}
		items = append(items, types.TransactWriteItem{Put: put})
	}
	bills := &Bills{DB: l.DB, Table: l.Bills}
	for i, after := range u.Bills.Changed {
		put, err := bills.conditionalPut(u.Bills.Read[i], after)
		if err != nil {
			return err
		}
		items = append(items, types.TransactWriteItem{Put: put})
	}
	for _, b := range u.Bills.Unchanged {
		items = append(items, types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{TableName: aws.String(l.Bills), Key: billKey(b.ID),
			ConditionExpression:       aws.String("version = :v"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":v": num(b.Version)}}})
	}
	for _, id := range u.Unlinked {
		items = append(items, types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{TableName: aws.String(l.Bills), Key: linkKey(id),
			ConditionExpression: aws.String("attribute_not_exists(pk)")}})
	}
	if len(items) == 0 {
		return nil
	}
	if len(items) > 100 {
		return fmt.Errorf("store: a unit writes at most 100 items, not %d", len(items))
	}
	_, err := l.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	switch {
	case err == nil:
		return nil
	case isTxLost(err):
		return ErrUnitConflict
	}
	return fmt.Errorf("store: commit: %w", err)
}

// ReadBills reads bills as one consistent snapshot (TransactGetItems);
// missing ones refuse with bill.NotFound.
func (l *Ledger) ReadBills(ctx context.Context, ids []string) ([]bill.Bill, error) {
	ids, err := bill.CheckIDs(ids)
	if err != nil {
		return nil, err
	}
	return (&Bills{DB: l.DB, Table: l.Bills}).getAll(ctx, "read", ids)
}

// The ledger reads what its units are made of: notices, bills, refunds.

// GetNotice: Houses.GetNotice.
func (l *Ledger) GetNotice(ctx context.Context, id string) (notice.Notice, error) {
	return (&Houses{DB: l.DB, Table: l.Bills}).GetNotice(ctx, id)
}

// ReserveAll: Bills.ReserveAll (one conditional transaction of its own).
func (l *Ledger) ReserveAll(ctx context.Context, orderID string, ids []string, until, now time.Time) ([]bill.Bill, error) {
	return (&Bills{DB: l.DB, Table: l.Bills}).ReserveAll(ctx, orderID, ids, until, now)
}

// ReleaseAll: Bills.ReleaseAll.
func (l *Ledger) ReleaseAll(ctx context.Context, orderID string, ids []string, at time.Time) ([]bill.Bill, error) {
	return (&Bills{DB: l.DB, Table: l.Bills}).ReleaseAll(ctx, orderID, ids, at)
}

// GetRefund: Orders.GetRefund.
func (l *Ledger) GetRefund(ctx context.Context, id string) (refund.Refund, error) {
	return (&Orders{DB: l.DB, Table: l.Orders}).GetRefund(ctx, id)
}

// Refunds: Orders.Refunds.
func (l *Ledger) Refunds(ctx context.Context, ids []string) ([]refund.Refund, error) {
	return (&Orders{DB: l.DB, Table: l.Orders}).Refunds(ctx, ids)
}

// LinkedEntry names the cashier entry that links code payment orderID ("" none).
func (l *Ledger) LinkedEntry(ctx context.Context, orderID string) (string, error) {
	res, err := l.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(l.Bills), Key: linkKey(orderID), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return "", fmt.Errorf("store: link of %s: %w", orderID, err)
	}
	if v, ok := res.Item["entry_id"].(*types.AttributeValueMemberS); ok {
		return v.Value, nil
	}
	return "", nil
}
