package store

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/estatepay/estatepay/shared/domain/bill"
)

// Fee items live in the BillsTable, one partition per community:
//
//	FEE#<company>#<community> / <name>   a fee item (bill.FeeItem)
//
// so a community's fee items are one Query, and another company's are
// never in reach (the company is in the key).

type feeItem struct {
	PK          string     `dynamodbav:"pk"`
	SK          string     `dynamodbav:"sk"`
	CompanyID   string     `dynamodbav:"company_id"`
	CommunityID string     `dynamodbav:"community_id"`
	Name        string     `dynamodbav:"name"`
	FixedFen    int64      `dynamodbav:"fixed_fen,omitempty"`
	PerM2Fen    int64      `dynamodbav:"per_m2_fen,omitempty"`
	Cycle       bill.Cycle `dynamodbav:"cycle"`
	UpdatedAt   string     `dynamodbav:"updated_at"`
}

func feePartition(companyID, communityID string) string {
	return "FEE#" + companyID + "#" + communityID
}

// PutFeeItem creates or replaces a community's fee item (by name).
func (r *Houses) PutFeeItem(ctx context.Context, f bill.FeeItem) error {
	item, err := attributevalue.MarshalMap(feeItem{PK: feePartition(f.CompanyID, f.CommunityID), SK: f.Name, CompanyID: f.CompanyID,
		CommunityID: f.CommunityID, Name: f.Name, FixedFen: f.FixedFen, PerM2Fen: f.PerM2Fen, Cycle: f.Cycle, UpdatedAt: ts(f.UpdatedAt)})
	if err != nil {
		return err
	}
	if _, err := r.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(r.Table), Item: item}); err != nil {
		return fmt.Errorf("store: put fee item: %w", err)
	}
	return nil
}

// FeeItems lists a community's fee items by name.
func (r *Houses) FeeItems(ctx context.Context, companyID, communityID string) ([]bill.FeeItem, error) {
	in := &dynamodb.QueryInput{TableName: aws.String(r.Table), KeyConditionExpression: aws.String("pk = :p"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": str(feePartition(companyID, communityID))}}
	out, err := queryAll(ctx, r.DB, in, func(it feeItem) bill.FeeItem {
		return bill.FeeItem{CompanyID: it.CompanyID, CommunityID: it.CommunityID, Name: it.Name, FixedFen: it.FixedFen,
			PerM2Fen: it.PerM2Fen, Cycle: it.Cycle, UpdatedAt: parseTS(it.UpdatedAt)}
	})
	if err != nil {
		return nil, fmt.Errorf("store: fee items: %w", err)
	}
	return out, nil
}
