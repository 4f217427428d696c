package store

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/estatepay/estatepay/shared/domain/managercode"
)

// A business manager's codes (M3, M4) in the DirectoryTable:
//
//	MGRCODES#<staff> / META   the managercode.Set (versioned; the parent
//	                          index lists a company's under COMPANY#<company>)
//	CODE#<token> / META       every token, current or replaced: a Code of
//	                          kind "manager" (what /c/<token> resolves),
//	                          not in the parent index
//
// Every change of a set is ONE TransactWriteItems: the set at the version
// read, each new token created (attribute_not_exists), and each token that
// changes — replaced by a refresh (valid_until = refresh + 3 h), revoked, or
// renamed/re-preset — written at the version it was read. Two refreshes at
// once: one wins, the other re-reads and applies again.

const managerCodesKind = "MGRCODES"

// GetManagerCodes returns a manager's codes (ErrNotFound: none issued yet).
func (s *Store) GetManagerCodes(ctx context.Context, staffID string) (managercode.Set, error) {
	return getDir[managercode.Set](ctx, s, managerCodesKind, staffID)
}

// ListManagerCodes lists the code sets of a company's managers (the
// console's manager codes page).
func (s *Store) ListManagerCodes(ctx context.Context, companyID string) ([]managercode.Set, error) {
	return listDir[managercode.Set](ctx, s, "COMPANY#"+companyID, managerCodesKind)
}

// ManagerTokenCode is the directory code of one of a manager's tokens.
func ManagerTokenCode(set managercode.Set, c managercode.Code, ownerName string) Code {
	return Code{Token: c.Token, CommunityID: set.CommunityID, Kind: managercode.Kind, Status: "active",
		OwnerID: set.StaffID, OwnerName: ownerName, CompanyID: set.CompanyID, CodeID: c.ID, Name: c.Name, Preset: c.Preset}
}

// CreateManagerCodes stores a new set and its tokens in one transaction;
// ErrExists when the manager has a set already.
func (s *Store) CreateManagerCodes(ctx context.Context, set managercode.Set, ownerName string) error {
	items, err := s.managerCodeWrites(ctx, managercode.Set{}, set, nil, ownerName, 0)
	if err != nil {
		return err
	}
	_, err = s.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	var canceled *types.TransactionCanceledException
	if errors.As(err, &canceled) {
		return ErrExists
	}
	if err != nil {
		return fmt.Errorf("store: create manager codes: %w", err)
	}
	return nil
}

// ManagerCodesChange is one change of a manager's set: it mutates the set
// (through its methods) and returns the tokens a refresh replaced, which
// keep paying until their ValidUntil; any other token the change drops is
// revoked at once.
type ManagerCodesChange func(*managercode.Set) ([]managercode.Superseded, error)

// ChangeManagerCodes reads the manager's set, applies change and writes the
// set and the tokens it touches in one transaction over the versions read,
// retrying a few times when a concurrent change got there first. It returns
// the set before and after. An error from change is returned as is, with
// nothing written.
func (s *Store) ChangeManagerCodes(ctx context.Context, staffID, ownerName string, change ManagerCodesChange) (before, after managercode.Set, err error) {
	for range 4 {
		var cur dirItem[managercode.Set]
		if err := s.get(ctx, s.Directory, dirKey(managerCodesKind, staffID), &cur); err != nil {
			return before, after, err
		}
		if before, err = clone(cur.Data); err != nil {
			return before, after, err
		}
		next, err := clone(cur.Data)
		if err != nil {
			return before, after, err
		}
		superseded, err := change(&next)
		if err != nil {
			return before, after, err
		}
		items, err := s.managerCodeWrites(ctx, before, next, superseded, ownerName, cur.Version)
		if errors.Is(err, ErrConflict) {
			continue
		}
		if err != nil {
			return before, after, err
		}
		_, err = s.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
		var canceled *types.TransactionCanceledException
		if errors.As(err, &canceled) {
			continue
		}
		if err != nil {
			return before, after, fmt.Errorf("store: change manager codes: %w", err)
		}
		return before, next, nil
	}
	return before, after, ErrConflict
}

// managerCodeWrites is the transaction that takes a set from before (zero:
// none yet) to after: the set item over readVersion, the new tokens, and the
// tokens replaced, revoked or changed, each over the version it is read at.
func (s *Store) managerCodeWrites(ctx context.Context, before, after managercode.Set, superseded []managercode.Superseded, ownerName string, readVersion int64) ([]types.TransactWriteItem, error) {
	if after.StaffID == "" || after.CompanyID == "" {
		return nil, errors.New("store: manager codes without staff or company")
	}
	parent, child := parentKeys(managerCodesKind, after.StaffID, after)
	setItem, err := attributevalue.MarshalMap(dirItem[managercode.Set]{PK: managerCodesKind + "#" + after.StaffID, SK: "META", Data: after,
		Parent: parent, Child: child, Version: readVersion + 1})
	if err != nil {
		return nil, err
	}
	var setCond expression.ConditionBuilder
	if readVersion == 0 {
		setCond = expression.AttributeNotExists(expression.Name("pk"))
	} else {
		setCond = versionCondition(readVersion)
	}
	put, err := conditionalPut(s.Directory, setItem, setCond)
	if err != nil {
		return nil, err
	}
	items := []types.TransactWriteItem{{Put: put}}

	old := map[string]managercode.Code{}
	for _, c := range before.Codes() {
		if c.Token != "" {
			old[c.Token] = c
		}
	}
	now := map[string]managercode.Code{}
	for _, c := range after.Codes() {
		now[c.Token] = c
		prev, had := old[c.Token]
		switch {
		case !had: // a new token
			code := ManagerTokenCode(after, c, ownerName)
			cp, ch := parentKeys("CODE", c.Token, code)
			item, err := attributevalue.MarshalMap(dirItem[Code]{PK: "CODE#" + c.Token, SK: "META", Data: code, Parent: cp, Child: ch, Version: 1})
			if err != nil {
				return nil, err
			}
			put, err := conditionalPut(s.Directory, item, expression.AttributeNotExists(expression.Name("pk")))
			if err != nil {
				return nil, err
			}
			items = append(items, types.TransactWriteItem{Put: put})
		case prev.Name != c.Name || !maps.Equal(prev.Preset, c.Preset):
			w, err := s.rewriteToken(ctx, c.Token, func(code *Code) { code.Name, code.Preset = c.Name, c.Preset })
			if err != nil {
				return nil, err
			}
			items = append(items, w)
		}
	}
	until := map[string]time.Time{}
	for _, sup := range superseded {
		until[sup.Token] = sup.ValidUntil
	}
	for tok := range old {
		if _, kept := now[tok]; kept {
			continue
		}
		end, replaced := until[tok]
		w, err := s.rewriteToken(ctx, tok, func(code *Code) {
			if replaced {
				code.ValidUntil = ts(end)
			} else {
				code.Status = "revoked"
			}
		})
		if err != nil {
			return nil, err
		}
		items = append(items, w)
	}
	return items, nil
}

// rewriteToken reads a manager token's code and returns its Put with change
// applied, over the version read (ErrConflict: it is gone).
func (s *Store) rewriteToken(ctx context.Context, token string, change func(*Code)) (types.TransactWriteItem, error) {
	var it dirItem[Code]
	if err := s.get(ctx, s.Directory, dirKey("CODE", token), &it); errors.Is(err, ErrNotFound) {
		return types.TransactWriteItem{}, ErrConflict
	} else if err != nil {
		return types.TransactWriteItem{}, err
	}
	read := it.Version
	change(&it.Data)
	it.Version++
	it.Parent, it.Child = parentKeys("CODE", token, it.Data)
	item, err := attributevalue.MarshalMap(it)
	if err != nil {
		return types.TransactWriteItem{}, err
	}
	put, err := conditionalPut(s.Directory, item, versionCondition(read))
	if err != nil {
		return types.TransactWriteItem{}, err
	}
	return types.TransactWriteItem{Put: put}, nil
}

func conditionalPut(table string, item map[string]types.AttributeValue, cond expression.ConditionBuilder) (*types.Put, error) {
	ex, err := expression.NewBuilder().WithCondition(cond).Build()
	if err != nil {
		return nil, err
	}
	return &types.Put{TableName: aws.String(table), Item: item, ConditionExpression: ex.Condition(),
		ExpressionAttributeNames: ex.Names(), ExpressionAttributeValues: ex.Values()}, nil
}

// AgeReplacedManagerTokens moves the end of every manager token that a
// refresh replaced d earlier (a Scan of the DirectoryTable: for the local
// stack's clock control and tests only, never a function's path).
func AgeReplacedManagerTokens(ctx context.Context, s *Store, d time.Duration) (int, error) {
	in := &dynamodb.ScanInput{TableName: aws.String(s.Directory)}
	n := 0
	for {
		res, err := s.DB.Scan(ctx, in)
		if err != nil {
			return n, err
		}
		for _, item := range res.Items {
			pk, _ := item["pk"].(*types.AttributeValueMemberS)
			if pk == nil || len(pk.Value) < 5 || pk.Value[:5] != "CODE#" {
				continue
			}
			var it dirItem[Code]
			if err := attributevalue.UnmarshalMap(item, &it); err != nil {
				return n, err
			}
			if it.Data.OwnerID == "" || it.Data.ValidUntil == "" {
				continue
			}
			it.Data.ValidUntil = ts(it.Data.Until().Add(-d))
			out, err := attributevalue.MarshalMap(it)
			if err != nil {
				return n, err
			}
			if _, err := s.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.Directory), Item: out}); err != nil {
				return n, err
			}
			n++
		}
		if len(res.LastEvaluatedKey) == 0 {
			return n, nil
		}
		in.ExclusiveStartKey = res.LastEvaluatedKey
	}
}
