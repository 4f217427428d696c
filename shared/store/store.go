// Package store holds the DynamoDB repositories, through aws-sdk-go-v2 only.
// Conditional writes carry the invariants: an order is created once per
// idempotency key, moves to PAID once, and its payment event is claimed by one
// sender at a time.
package store

import (
	"context"
	"errors"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Store is the product's data access.
type Store struct {
	DB        *dynamodb.Client
	Directory string // DirectoryTable name
	Orders    string // OrdersTable name
	Access    string // AccessTable name (staff, sessions, throttles, audit)
	Bills     string // BillsTable name
}

// ErrNotFound is returned when an item does not exist.
var ErrNotFound = errors.New("store: not found")

func isConditionFailed(err error) bool {
	var ccf *types.ConditionalCheckFailedException
	return errors.As(err, &ccf)
}

func (s *Store) get(ctx context.Context, table string, key map[string]types.AttributeValue, out any) error {
	res, err := s.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: key, ConsistentRead: aws.Bool(true)})
	if err != nil {
		return err
	}
	if len(res.Item) == 0 {
		return ErrNotFound
	}
	return attributevalue.UnmarshalMap(res.Item, out)
}

func str(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }
