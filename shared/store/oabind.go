package store

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/estatepay/estatepay/shared/accounts"
	"github.com/estatepay/estatepay/shared/domain/notification"
)

// Official-account bind links (accounts.BindToken) in the AccessTable:
//
//	OABIND#<sha256(token)>  staff_id, company_id, created_at, valid_until
//	                        (the link works before it), used_at (once used);
//	                        expires_at (TTL) a day after valid_until, so a
//	                        late open still reads "used" rather than unknown
//
// Created with attribute_not_exists(pk); used in the command's transaction
// (Apply, Change.UseBindToken) with a condition that holds once.

// bindKeep is how long a bind token is kept past its expiry.
const bindKeep = 24 * time.Hour

type bindItem struct {
	PK         string `dynamodbav:"pk"`
	SK         string `dynamodbav:"sk"`
	StaffID    string `dynamodbav:"staff_id"`
	CompanyID  string `dynamodbav:"company_id"`
	CreatedAt  string `dynamodbav:"created_at"`
	ValidUntil string `dynamodbav:"valid_until"`
	UsedAt     string `dynamodbav:"used_at,omitempty"`
	ExpiresAt  int64  `dynamodbav:"expires_at"`
}

func (a *Access) PutBindToken(ctx context.Context, t accounts.BindToken) error {
	item, err := attributevalue.MarshalMap(bindItem{PK: "OABIND#" + t.Hash, SK: "A", StaffID: t.StaffID, CompanyID: t.CompanyID,
		CreatedAt: ts(t.CreatedAt), ValidUntil: ts(t.ExpiresAt), ExpiresAt: epoch(t.ExpiresAt.Add(bindKeep))})
	if err != nil {
		return err
	}
	_, err = a.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(a.Table), Item: item,
		ConditionExpression: aws.String("attribute_not_exists(pk)")})
	if isConditionFailed(err) {
		return accounts.ErrConflict
	}
	return err
}

func (a *Access) GetBindToken(ctx context.Context, hash string) (accounts.BindToken, error) {
	var it bindItem
	if err := a.get(ctx, "OABIND#"+hash, &it); err != nil {
		return accounts.BindToken{}, err
	}
	return accounts.BindToken{Hash: hash, StaffID: it.StaffID, CompanyID: it.CompanyID, CreatedAt: parseTS(it.CreatedAt),
		ExpiresAt: parseTS(it.ValidUntil), UsedAt: parseTS(it.UsedAt)}, nil
}

// useBindToken is the transaction item that uses a bind token: it must
// exist, be unused, still be valid at u.At and belong to u's staff and
// company. valid_until and the time are both ts() strings (fixed width,
// UTC), so they compare as times.
func (a *Access) useBindToken(u *accounts.BindUse) types.TransactWriteItem {
	return types.TransactWriteItem{Update: &types.Update{TableName: aws.String(a.Table), Key: accessKey("OABIND#" + u.Hash),
		UpdateExpression:    aws.String("SET used_at = :at"),
		ConditionExpression: aws.String("attribute_exists(pk) AND attribute_not_exists(used_at) AND valid_until > :at AND staff_id = :s AND company_id = :c"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":at": str(ts(u.At)), ":s": str(u.StaffID),
			":c": str(u.CompanyID)}}}
}

// withOfficialOpenIDs sets the OpenID of each preference whose staff
// member has bound the official account (the staff item's oa_openid) to
// that openid: staff messages go to the bound official-account identity
// before the preference's own openid and the login-bound one. Only an
// account of the preference's own company counts. One BatchGetItem per 100
// staff members (projection: the three attributes needed).
func (n *Notifications) withOfficialOpenIDs(ctx context.Context, prefs []notification.Preference) error {
	seen := map[string]bool{}
	var keys []map[string]types.AttributeValue
	for _, p := range prefs {
		if !seen[p.StaffID] {
			seen[p.StaffID] = true
			keys = append(keys, accessKey("STAFF#"+p.StaffID))
		}
	}
	found := map[string]struct{ company, openid string }{}
	for len(keys) > 0 {
		chunk := keys[:min(len(keys), 100)]
		keys = keys[len(chunk):]
		req := map[string]types.KeysAndAttributes{n.Table: {Keys: chunk, ConsistentRead: aws.Bool(true),
			ProjectionExpression: aws.String("pk, company_id, oa_openid")}}
		for try := 0; len(req) > 0; try++ {
			if try > 0 {
				if try >= maxBatchTries {
					return ErrThrottled
				}
				if err := backoff(ctx, try); err != nil {
					return err
				}
			}
			res, err := n.DB.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: req})
			if err != nil {
				return fmt.Errorf("store: staff openids: %w", err)
			}
			for _, raw := range res.Responses[n.Table] {
				var it struct {
					PK        string `dynamodbav:"pk"`
					CompanyID string `dynamodbav:"company_id"`
					OAOpenID  string `dynamodbav:"oa_openid"`
				}
				if err := attributevalue.UnmarshalMap(raw, &it); err != nil {
					return err
				}
				found[it.PK] = struct{ company, openid string }{it.CompanyID, it.OAOpenID}
			}
			req = res.UnprocessedKeys
		}
	}
	for i, p := range prefs {
		if st, ok := found["STAFF#"+p.StaffID]; ok && st.openid != "" && st.company == p.CompanyID {
			prefs[i].OpenID = st.openid
		}
	}
	return nil
}
