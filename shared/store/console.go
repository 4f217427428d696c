package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/estatepay/estatepay/shared/domain/managercode"
)

// The console's directory writes: creation is conditional on the item not
// existing, an update is a read-modify-write under the item's version
// (optimistic lock), a code rotation is one transaction. Listing reads the
// sparse "parent" index, never a Scan.

// ErrExists is a create of an id that is already taken.
var ErrExists = errors.New("store: already exists")

// ErrConflict is an update that kept losing to concurrent updates.
var ErrConflict = errors.New("store: concurrent update")

// parentIndex lists the children of a parent (the GSI on DirectoryTable).
const parentIndex = "parent"

// parentKeys places an item in the parent index: companies under
// "COMPANIES", communities and interfaces under their company, codes under
// their community. The child key starts with the item's kind so that one
// parent's communities and interfaces are queried apart.
func parentKeys(kind, id string, v any) (parent, child string) {
	child = kind + "#" + id
	switch x := v.(type) {
	case Company:
		return "COMPANIES", child
	case Community:
		return "COMPANY#" + x.CompanyID, child
	case Interface:
		return "COMPANY#" + x.CompanyID, child
	case Code:
		if x.OwnerID != "" {
			return "", "" // a manager's token: listed through its manager's set, not the community's codes
		}
		return "COMMUNITY#" + x.CommunityID, child
	case managercode.Set:
		return "COMPANY#" + x.CompanyID, child
	}
	return "", ""
}

func createDir[T any](ctx context.Context, s *Store, kind, id string, v T) error {
	if id == "" {
		return fmt.Errorf("store: create %s: empty id", kind)
	}
	parent, child := parentKeys(kind, id, v)
	item, err := attributevalue.MarshalMap(dirItem[T]{PK: kind + "#" + id, SK: "META", Data: v, Parent: parent, Child: child, Version: 1})
	if err != nil {
		return err
	}
	cond, err := expression.NewBuilder().WithCondition(expression.AttributeNotExists(expression.Name("pk"))).Build()
	if err != nil {
		return err
	}
	_, err = s.DB.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(s.Directory), Item: item,
		ConditionExpression: cond.Condition(), ExpressionAttributeNames: cond.Names(),
	})
	if isConditionFailed(err) {
		return ErrExists
	}
	if err != nil {
		return fmt.Errorf("store: create %s %s: %w", kind, id, err)
	}
	return nil
}

// versionCondition holds a write to the version read (attribute absent for
// items written before versions existed, e.g. by the demo seed).
func versionCondition(read int64) expression.ConditionBuilder {
	exists := expression.AttributeExists(expression.Name("pk"))
	if read == 0 {
		return exists.And(expression.AttributeNotExists(expression.Name("version")))
	}
	return exists.And(expression.Name("version").Equal(expression.Value(read)))
}

// updateDir reads the item, applies change and writes it back on the version
// read, retrying a few times when another update got there first. It
// returns the item before and after the change. An error from change is
// returned as is, with nothing written.
func updateDir[T any](ctx context.Context, s *Store, kind, id string, change func(*T) error) (before, after T, err error) {
	if id == "" {
		return before, after, ErrNotFound
	}
	for range 4 {
		var cur dirItem[T]
		if err := s.get(ctx, s.Directory, dirKey(kind, id), &cur); err != nil {
			return before, after, err
		}
		// change works on a copy: slices (payer fields) must not alias before.
		if before, err = clone(cur.Data); err != nil {
			return before, after, err
		}
		if err := change(&cur.Data); err != nil {
			return before, after, err
		}
		read := cur.Version
		cur.Version++
		cur.Parent, cur.Child = parentKeys(kind, id, cur.Data)
		item, err := attributevalue.MarshalMap(cur)
		if err != nil {
			return before, after, err
		}
		cond, err := expression.NewBuilder().WithCondition(versionCondition(read)).Build()
		if err != nil {
			return before, after, err
		}
		_, err = s.DB.PutItem(ctx, &dynamodb.PutItemInput{
			TableName: aws.String(s.Directory), Item: item, ConditionExpression: cond.Condition(),
			ExpressionAttributeNames: cond.Names(), ExpressionAttributeValues: cond.Values(),
		})
		if isConditionFailed(err) {
			continue
		}
		if err != nil {
			return before, after, fmt.Errorf("store: update %s %s: %w", kind, id, err)
		}
		return before, cur.Data, nil
	}
	return before, after, ErrConflict
}

// listDir returns every child of parent whose kind is kind (bounded by the
// console's own limits: tens of communities, a handful of interfaces).
func listDir[T any](ctx context.Context, s *Store, parent, kind string) ([]T, error) {
	key := expression.Key("parent").Equal(expression.Value(parent)).And(expression.Key("child").BeginsWith(kind + "#"))
	ex, err := expression.NewBuilder().WithKeyCondition(key).Build()
	if err != nil {
		return nil, err
	}
	in := &dynamodb.QueryInput{
		TableName: aws.String(s.Directory), IndexName: aws.String(parentIndex),
		KeyConditionExpression: ex.KeyCondition(), ExpressionAttributeNames: ex.Names(), ExpressionAttributeValues: ex.Values(),
	}
	var out []T
	for page := 0; ; page++ {
		if page == 50 {
			return out, fmt.Errorf("store: list %s of %s: too many pages", kind, parent)
		}
		res, err := s.DB.Query(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("store: list %s of %s: %w", kind, parent, err)
		}
		for _, item := range res.Items {
			var it dirItem[T]
			if err := attributevalue.UnmarshalMap(item, &it); err != nil {
				return nil, err
			}
			out = append(out, it.Data)
		}
		if len(res.LastEvaluatedKey) == 0 {
			return out, nil
		}
		in.ExclusiveStartKey = res.LastEvaluatedKey
	}
}

func (s *Store) CreateCompany(ctx context.Context, c Company) error {
	return createDir(ctx, s, "COMPANY", c.ID, c)
}
func (s *Store) CreateCommunity(ctx context.Context, c Community) error {
	return createDir(ctx, s, "COMMUNITY", c.ID, c)
}
func (s *Store) CreateInterface(ctx context.Context, i Interface) error {
	return createDir(ctx, s, "IFACE", i.ID, i)
}
func (s *Store) CreateCode(ctx context.Context, c Code) error {
	return createDir(ctx, s, "CODE", c.Token, c)
}

func (s *Store) UpdateCompany(ctx context.Context, id string, change func(*Company) error) (before, after Company, err error) {
	return updateDir(ctx, s, "COMPANY", id, change)
}
func (s *Store) UpdateCommunity(ctx context.Context, id string, change func(*Community) error) (before, after Community, err error) {
	return updateDir(ctx, s, "COMMUNITY", id, change)
}
func (s *Store) UpdateInterface(ctx context.Context, id string, change func(*Interface) error) (before, after Interface, err error) {
	return updateDir(ctx, s, "IFACE", id, change)
}
func (s *Store) UpdateCode(ctx context.Context, token string, change func(*Code) error) (before, after Code, err error) {
	return updateDir(ctx, s, "CODE", token, change)
}

// ListCompanies lists every company (the operator's view).
func (s *Store) ListCompanies(ctx context.Context) ([]Company, error) {
	return listDir[Company](ctx, s, "COMPANIES", "COMPANY")
}

// ListCommunities lists a company's communities.
func (s *Store) ListCommunities(ctx context.Context, companyID string) ([]Community, error) {
	return listDir[Community](ctx, s, "COMPANY#"+companyID, "COMMUNITY")
}

// ListInterfaces lists a company's payment interfaces.
func (s *Store) ListInterfaces(ctx context.Context, companyID string) ([]Interface, error) {
	return listDir[Interface](ctx, s, "COMPANY#"+companyID, "IFACE")
}

// ListCodes lists a community's codes, revoked ones included.
func (s *Store) ListCodes(ctx context.Context, communityID string) ([]Code, error) {
	return listDir[Code](ctx, s, "COMMUNITY#"+communityID, "CODE")
}

// RotateCode revokes the active code old and creates next in its place, in
// one transaction: the old code must still be active and unchanged since it
// was read, and next's token must be new. It returns the old code as it was.
func (s *Store) RotateCode(ctx context.Context, old string, next Code) (Code, error) {
	var it dirItem[Code]
	if err := s.get(ctx, s.Directory, dirKey("CODE", old), &it); err != nil {
		return Code{}, err
	}
	if it.Data.Status != "active" {
		return it.Data, ErrConflict
	}
	revoked := it
	revoked.Data.Status = "revoked"
	revoked.Version = it.Version + 1
	revoked.Parent, revoked.Child = parentKeys("CODE", old, revoked.Data)
	oldItem, err := attributevalue.MarshalMap(revoked)
	if err != nil {
		return Code{}, err
	}
	parent, child := parentKeys("CODE", next.Token, next)
	newItem, err := attributevalue.MarshalMap(dirItem[Code]{PK: "CODE#" + next.Token, SK: "META", Data: next, Parent: parent, Child: child, Version: 1})
	if err != nil {
		return Code{}, err
	}
	oldCond, err := expression.NewBuilder().WithCondition(versionCondition(it.Version)).Build()
	if err != nil {
		return Code{}, err
	}
	newCond, err := expression.NewBuilder().WithCondition(expression.AttributeNotExists(expression.Name("pk"))).Build()
	if err != nil {
		return Code{}, err
	}
	_, err = s.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: &types.Put{TableName: aws.String(s.Directory), Item: oldItem, ConditionExpression: oldCond.Condition(),
			ExpressionAttributeNames: oldCond.Names(), ExpressionAttributeValues: oldCond.Values()}},
		{Put: &types.Put{TableName: aws.String(s.Directory), Item: newItem, ConditionExpression: newCond.Condition(),
			ExpressionAttributeNames: newCond.Names()}},
	}})
	var canceled *types.TransactionCanceledException
	if errors.As(err, &canceled) {
		return it.Data, ErrConflict
	}
	if err != nil {
		return Code{}, fmt.Errorf("store: rotate code: %w", err)
	}
	return it.Data, nil
}

func clone[T any](v T) (T, error) {
	var out T
	av, err := attributevalue.Marshal(v)
	if err != nil {
		return out, err
	}
	err = attributevalue.Unmarshal(av, &out)
	return out, err
}
