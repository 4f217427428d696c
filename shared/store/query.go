package store

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// queryAll runs in page after page and decodes every item as I (the
// stored item's struct), turned into a T by conv: a whole partition (or key
// range) read into memory, for listings that are small by nature (a
// month's statements, a community's fee items, a staff member's settings).
func queryAll[I, T any](ctx context.Context, db *dynamodb.Client, in *dynamodb.QueryInput, conv func(I) T) ([]T, error) {
	var out []T
	for {
		res, err := db.Query(ctx, in)
		if err != nil {
			return nil, err
		}
		for _, raw := range res.Items {
			var it I
			if err := attributevalue.UnmarshalMap(raw, &it); err != nil {
				return nil, err
			}
			out = append(out, conv(it))
		}
		if len(res.LastEvaluatedKey) == 0 {
			return out, nil
		}
		in.ExclusiveStartKey = res.LastEvaluatedKey
	}
}
