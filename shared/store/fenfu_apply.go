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

	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/fenfu"
)

// 分付 applications (F1) in the DirectoryTable: one item per WeChat Pay
// interface (pk FENFUAPP#<interface id>), written under its version like
// every console item. The parent index lists them for the reviewer across
// companies by status: parent FENFUAPPS, child
// FENFUAPP#<status>#<submitted at>#<id> (oldest submission first). An
// approval is ONE transaction: the application APPROVED and the interface's
// Fenfu set to FenfuEnabled, each at the version read. The payment-industry
// risk list is FENFURISK#<merchant id> items.

const (
	fenfuAppKind    = "FENFUAPP"
	fenfuAppsParent = "FENFUAPPS"
	fenfuRiskKind   = "FENFURISK"
)

func fenfuAppItem(a fenfu.Application, version int64) (map[string]types.AttributeValue, error) {
	return attributevalue.MarshalMap(dirItem[fenfu.Application]{
		PK: fenfuAppKind + "#" + a.ID, SK: "META", Data: a, Version: version,
		Parent: fenfuAppsParent, Child: fenfuAppKind + "#" + string(a.Status) + "#" + ts(a.SubmittedAt) + "#" + a.ID,
	})
}

// GetFenfuApplication reads the application of interface id and its
// version (ErrNotFound: the merchant never applied).
func (s *Store) GetFenfuApplication(ctx context.Context, id string) (fenfu.Application, int64, error) {
	var it dirItem[fenfu.Application]
	if id == "" {
		return it.Data, 0, ErrNotFound
	}
	err := s.get(ctx, s.Directory, dirKey(fenfuAppKind, id), &it)
	return it.Data, it.Version, err
}

// SaveFenfuApplication writes the application at the version read (0: a
// new one, which must not exist) and returns its new version; ErrConflict
// when another write got there first.
func (s *Store) SaveFenfuApplication(ctx context.Context, a fenfu.Application, read int64) (int64, error) {
	if a.ID == "" {
		return 0, fmt.Errorf("store: fenfu application: empty id")
	}
	item, err := fenfuAppItem(a, read+1)
	if err != nil {
		return 0, err
	}
	cond := expression.AttributeNotExists(expression.Name("pk"))
	if read > 0 {
		cond = versionCondition(read)
	}
	ex, err := expression.NewBuilder().WithCondition(cond).Build()
	if err != nil {
		return 0, err
	}
	_, err = s.DB.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(s.Directory), Item: item, ConditionExpression: ex.Condition(),
		ExpressionAttributeNames: ex.Names(), ExpressionAttributeValues: ex.Values(),
	})
	if isConditionFailed(err) {
		return 0, ErrConflict
	}
	if err != nil {
		return 0, fmt.Errorf("store: save fenfu application %s: %w", a.ID, err)
	}
	return read + 1, nil
}

// ListFenfuApplications lists the applications in status st (every one
// when st is ""), across companies: the reviewer's queue.
func (s *Store) ListFenfuApplications(ctx context.Context, st fenfu.Status) ([]fenfu.Application, error) {
	kind := fenfuAppKind
	if st != "" {
		kind += "#" + string(st)
	}
	return listDir[fenfu.Application](ctx, s, fenfuAppsParent, kind)
}

// ApproveFenfu writes the approved application a (read at version read)
// and enables 分付 on its interface, in one transaction conditional on both
// versions: a concurrent change of either (the interface edited, another
// decision) cancels it with ErrConflict and nothing is written.
func (s *Store) ApproveFenfu(ctx context.Context, a fenfu.Application, read int64) (before, after Interface, err error) {
	if a.Status != fenfu.Approved {
		return before, after, fmt.Errorf("store: approve fenfu %s: status %s", a.ID, a.Status)
	}
	var ifc dirItem[Interface]
	if err := s.get(ctx, s.Directory, dirKey("IFACE", a.ID), &ifc); err != nil {
		return before, after, err
	}
	if ifc.Data.CompanyID != a.CompanyID || ifc.Data.Channel != domain.WeChat {
		return before, after, fmt.Errorf("store: approve fenfu %s: not the company's WeChat Pay interface", a.ID)
	}
	before = ifc.Data
	ifcRead := ifc.Version
	ifc.Data.Fenfu = FenfuEnabled
	ifc.Version++
	ifc.Parent, ifc.Child = parentKeys("IFACE", a.ID, ifc.Data)
	ifcItem, err := attributevalue.MarshalMap(ifc)
	if err != nil {
		return before, after, err
	}
	appItem, err := fenfuAppItem(a, read+1)
	if err != nil {
		return before, after, err
	}
	ifcCond, err := expression.NewBuilder().WithCondition(versionCondition(ifcRead)).Build()
	if err != nil {
		return before, after, err
	}
	appCond, err := expression.NewBuilder().WithCondition(versionCondition(read)).Build()
	if err != nil {
		return before, after, err
	}
	_, err = s.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: &types.Put{TableName: aws.String(s.Directory), Item: ifcItem, ConditionExpression: ifcCond.Condition(),
			ExpressionAttributeNames: ifcCond.Names(), ExpressionAttributeValues: ifcCond.Values()}},
		{Put: &types.Put{TableName: aws.String(s.Directory), Item: appItem, ConditionExpression: appCond.Condition(),
			ExpressionAttributeNames: appCond.Names(), ExpressionAttributeValues: appCond.Values()}},
	}})
	var canceled *types.TransactionCanceledException
	if errors.As(err, &canceled) {
		return before, after, ErrConflict
	}
	if err != nil {
		return before, after, fmt.Errorf("store: approve fenfu %s: %w", a.ID, err)
	}
	return before, ifc.Data, nil
}

// fenfuRisk is a merchant on the payment industry's risk list.
type fenfuRisk struct {
	MerchantID string `dynamodbav:"merchant_id"`
	Reason     string `dynamodbav:"reason"`
}

// FenfuRiskListed reports whether merchant id mch is on the risk list.
func (s *Store) FenfuRiskListed(ctx context.Context, mch string) (bool, error) {
	_, err := getDir[fenfuRisk](ctx, s, fenfuRiskKind, mch)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// ListFenfuRisk puts merchant id mch on the risk list, with the reason.
func (s *Store) ListFenfuRisk(ctx context.Context, mch, reason string) error {
	return putDir(ctx, s, fenfuRiskKind, mch, fenfuRisk{MerchantID: mch, Reason: reason})
}

// maxHistoryPages bounds one community's history queries (each page reads
// at most 1 MB of the records index).
const maxHistoryPages = 200

// WeChatHistory is a WeChat Pay interface's history in our own records:
// its earliest paid order and its paid orders a month, averaged over the
// fenfu.HistoryMonths months before now. It reads the records index of the
// company's communities that collect through the interface — in paid-at
// order, stopping at the first of the interface's payments; the recent
// months counted (Select COUNT) — never a Scan.
func (s *Store) WeChatHistory(ctx context.Context, ifc Interface, now time.Time) (first time.Time, monthly int, err error) {
	cs, err := s.ListCommunities(ctx, ifc.CompanyID)
	if err != nil {
		return first, 0, err
	}
	filter := expression.Name("iface_id").Equal(expression.Value(ifc.ID)).And(expression.Name("channel").Equal(expression.Value(string(domain.WeChat))))
	total := 0
	for _, c := range cs {
		if c.WeChatIfaceID != ifc.ID {
			continue
		}
		// The earliest: ascending by paid_at, the first match.
		ex, err := expression.NewBuilder().WithKeyCondition(expression.Key("rec_pk").Equal(expression.Value(c.ID))).WithFilter(filter).
			WithProjection(expression.NamesList(expression.Name("paid_at"))).Build()
		if err != nil {
			return first, 0, err
		}
		in := &dynamodb.QueryInput{TableName: aws.String(s.Orders), IndexName: aws.String("records"), ScanIndexForward: aws.Bool(true),
			KeyConditionExpression: ex.KeyCondition(), FilterExpression: ex.Filter(), ProjectionExpression: ex.Projection(),
			ExpressionAttributeNames: ex.Names(), ExpressionAttributeValues: ex.Values()}
		for page := 0; page < maxHistoryPages; page++ {
			res, err := s.DB.Query(ctx, in)
			if err != nil {
				return first, 0, fmt.Errorf("store: wechat history of %s: %w", c.ID, err)
			}
			if len(res.Items) > 0 {
				var o struct {
					PaidAt string `dynamodbav:"paid_at"`
				}
				if err := attributevalue.UnmarshalMap(res.Items[0], &o); err != nil {
					return first, 0, err
				}
				if t := parseTS(o.PaidAt); !t.IsZero() && (first.IsZero() || t.Before(first)) {
					first = t
				}
				break
			}
			if len(res.LastEvaluatedKey) == 0 {
				break
			}
			in.ExclusiveStartKey = res.LastEvaluatedKey
		}
		// The recent months, counted.
		key := expression.Key("rec_pk").Equal(expression.Value(c.ID)).And(expression.Key("rec_sk").GreaterThanEqual(expression.Value(ts(now.AddDate(0, -fenfu.HistoryMonths, 0)))))
		ex, err = expression.NewBuilder().WithKeyCondition(key).WithFilter(filter).Build()
		if err != nil {
			return first, 0, err
		}
		in = &dynamodb.QueryInput{TableName: aws.String(s.Orders), IndexName: aws.String("records"), Select: types.SelectCount,
			KeyConditionExpression: ex.KeyCondition(), FilterExpression: ex.Filter(),
			ExpressionAttributeNames: ex.Names(), ExpressionAttributeValues: ex.Values()}
		for page := 0; ; page++ {
			if page == maxHistoryPages {
				return first, 0, fmt.Errorf("store: wechat history of %s: too many pages", c.ID)
			}
			res, err := s.DB.Query(ctx, in)
			if err != nil {
				return first, 0, fmt.Errorf("store: wechat orders of %s: %w", c.ID, err)
			}
			total += int(res.Count)
			if len(res.LastEvaluatedKey) == 0 {
				break
			}
			in.ExclusiveStartKey = res.LastEvaluatedKey
		}
	}
	return first, total / fenfu.HistoryMonths, nil
}
