package store

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/estatepay/estatepay/shared/accounts"
	"github.com/estatepay/estatepay/shared/auth"
	"github.com/estatepay/estatepay/shared/domain/staff"
)

// Access is the DynamoDB adapter of the AccessTable (accounts.Repository).
// Items (pk, sk "A" unless said; expires_at is the TTL, epoch seconds):
//
//	STAFF#<id>                 a staff account (the aggregate, optimistic lock on version);
//	                           index "company": company_pk = company id ("PLATFORM" for
//	                           operators), company_sk = STAFF#<name>#<id>
//	PHONE#<phone>              → staff_id: one account per phone (created with the account)
//	OPERATOR#FIRST             → staff_id: the bootstrapped first operator (singleton)
//	SESSION#<sha256(id)>       a session; expires_at = absolute expiry
//	THROTTLE#<kind>#<key>      a throttle counter (kind phone, ip, sms)
//	SMS#<challenge id>         an SMS step-up challenge
//	SETPW#<sha256(token)>      a set-password link
//	OABIND#<sha256(token)>     an official-account bind link (oabind.go)
//	AUDIT#<company|PLATFORM>   sk <UTC time, ms>#<entry id>: an audit entry
//
// Every command's writes are one TransactWriteItems (Apply).
type Access struct {
	DB    *dynamodb.Client
	Table string
}

// AccessRepo is the AccessTable repository of the store.
func (s *Store) AccessRepo() *Access { return &Access{DB: s.DB, Table: s.Access} }

const platformLog = "PLATFORM"

func companyKey(companyID string) string {
	if companyID == "" {
		return platformLog
	}
	return companyID
}

func accessKey(pk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": str(pk), "sk": str("A")}
}

func num(n int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}

func epoch(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

func fromEpoch(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(n, 0).UTC()
}

type staffItem struct {
	PK           string `dynamodbav:"pk"`
	SK           string `dynamodbav:"sk"`
	ID           string `dynamodbav:"id"`
	CompanyID    string `dynamodbav:"company_id"`
	Role         string `dynamodbav:"role"`
	Name         string `dynamodbav:"name"`
	Phone        string `dynamodbav:"phone"`
	Email        string `dynamodbav:"email"`
	Status       string `dynamodbav:"status"`
	PasswordHash string `dynamodbav:"password_hash,omitempty"`
	OpenID       string `dynamodbav:"wechat_openid,omitempty"`
	OAOpenID     string `dynamodbav:"oa_openid,omitempty"` // the official account's, for staff notifications
	OABoundAt    string `dynamodbav:"oa_bound_at,omitempty"`
	Session      string `dynamodbav:"session,omitempty"`
	PasswordLink string `dynamodbav:"pw_link,omitempty"`
	Version      int64  `dynamodbav:"version"`
	CreatedAt    string `dynamodbav:"created_at"`
	CompanyPK    string `dynamodbav:"company_pk"`
	CompanySK    string `dynamodbav:"company_sk"`
}

func toStaffItem(s staff.Staff) staffItem {
	return staffItem{PK: "STAFF#" + s.ID, SK: "A", ID: s.ID, CompanyID: s.CompanyID, Role: string(s.Role), Name: s.Name, Phone: s.Phone,
		Email: s.Email, Status: string(s.Status), PasswordHash: s.PasswordHash, OpenID: s.OpenID, Session: s.Session,
		OAOpenID: s.OfficialOpenID, OABoundAt: ts(s.OfficialBoundAt), PasswordLink: s.PasswordLink, Version: s.Version, CreatedAt: ts(s.CreatedAt),
		CompanyPK: companyKey(s.CompanyID), CompanySK: "STAFF#" + s.Name + "#" + s.ID}
}

func (it staffItem) staff() staff.Staff {
	return staff.Staff{ID: it.ID, CompanyID: it.CompanyID, Role: staff.Role(it.Role), Name: it.Name, Phone: it.Phone, Email: it.Email,
		Status: staff.Status(it.Status), PasswordHash: it.PasswordHash, OpenID: it.OpenID, Session: it.Session,
		OfficialOpenID: it.OAOpenID, OfficialBoundAt: parseTS(it.OABoundAt), PasswordLink: it.PasswordLink, Version: it.Version, CreatedAt: parseTS(it.CreatedAt)}
}

type refItem struct {
	PK      string `dynamodbav:"pk"`
	SK      string `dynamodbav:"sk"`
	StaffID string `dynamodbav:"staff_id"`
}

type sessionItem struct {
	PK              string `dynamodbav:"pk"`
	SK              string `dynamodbav:"sk"`
	StaffID         string `dynamodbav:"staff_id"`
	CompanyID       string `dynamodbav:"company_id"`
	Name            string `dynamodbav:"name"`
	Phone           string `dynamodbav:"phone"`
	Role            string `dynamodbav:"role"`
	CSRF            string `dynamodbav:"csrf"`
	IP              string `dynamodbav:"ip"`
	CreatedAt       string `dynamodbav:"created_at"`
	LastSeen        string `dynamodbav:"last_seen"`
	ExpiresAt       int64  `dynamodbav:"expires_at"`
	SqueezedAt      string `dynamodbav:"squeezed_at,omitempty"`
	SqueezeReported bool   `dynamodbav:"squeeze_reported,omitempty"`
}

type linkItem struct {
	PK        string `dynamodbav:"pk"`
	SK        string `dynamodbav:"sk"`
	StaffID   string `dynamodbav:"staff_id"`
	ExpiresAt int64  `dynamodbav:"expires_at"`
}

type challengeItem struct {
	PK        string `dynamodbav:"pk"`
	SK        string `dynamodbav:"sk"`
	StaffID   string `dynamodbav:"staff_id"`
	Phone     string `dynamodbav:"phone"`
	OpenID    string `dynamodbav:"openid"`
	CodeHash  string `dynamodbav:"code_hash"`
	Tries     int    `dynamodbav:"tries"`
	Sends     int    `dynamodbav:"sends"`
	SentAt    string `dynamodbav:"sent_at"`
	ExpiresAt int64  `dynamodbav:"expires_at"`
}

type throttleItem struct {
	PK          string `dynamodbav:"pk"`
	SK          string `dynamodbav:"sk"`
	Count       int    `dynamodbav:"count"`
	WindowStart string `dynamodbav:"window_start,omitempty"`
	Locks       int    `dynamodbav:"locks"`
	LockedUntil string `dynamodbav:"locked_until,omitempty"`
	LastAt      string `dynamodbav:"last_at,omitempty"`
	Version     int64  `dynamodbav:"version"`
	ExpiresAt   int64  `dynamodbav:"expires_at"`
}

type auditItem struct {
	PK         string `dynamodbav:"pk"`
	SK         string `dynamodbav:"sk"`
	CompanyID  string `dynamodbav:"company_id"`
	ID         string `dynamodbav:"id"`
	At         string `dynamodbav:"at"`
	ActorID    string `dynamodbav:"actor_id"`
	ActorName  string `dynamodbav:"actor_name"`
	ActorRole  string `dynamodbav:"actor_role"`
	Action     string `dynamodbav:"action"`
	TargetKind string `dynamodbav:"target_kind"`
	TargetID   string `dynamodbav:"target_id"`
	Before     string `dynamodbav:"before"`
	After      string `dynamodbav:"after"`
}

func toAuditItem(e accounts.AuditEntry) auditItem {
	at := ts(e.At)
	return auditItem{PK: "AUDIT#" + companyKey(e.CompanyID), SK: at + "#" + e.ID, CompanyID: e.CompanyID, ID: e.ID, At: at,
		ActorID: e.ActorID, ActorName: e.ActorName, ActorRole: string(e.ActorRole), Action: e.Action,
		TargetKind: e.TargetKind, TargetID: e.TargetID, Before: string(e.Before), After: string(e.After)}
}

func (it auditItem) entry() accounts.AuditEntry {
	return accounts.AuditEntry{CompanyID: it.CompanyID, ID: it.ID, At: parseTS(it.At), ActorID: it.ActorID, ActorName: it.ActorName,
		ActorRole: staff.Role(it.ActorRole), Action: it.Action, TargetKind: it.TargetKind, TargetID: it.TargetID,
		Before: []byte(it.Before), After: []byte(it.After)}
}

func (a *Access) get(ctx context.Context, pk string, out any) error {
	res, err := a.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(a.Table), Key: accessKey(pk), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return err
	}
	if len(res.Item) == 0 {
		return accounts.ErrNotFound
	}
	return attributevalue.UnmarshalMap(res.Item, out)
}

func (a *Access) GetStaff(ctx context.Context, id string) (staff.Staff, error) {
	var it staffItem
	if err := a.get(ctx, "STAFF#"+id, &it); err != nil {
		return staff.Staff{}, err
	}
	return it.staff(), nil
}

func (a *Access) StaffIDByPhone(ctx context.Context, phone string) (string, error) {
	var it refItem
	if err := a.get(ctx, "PHONE#"+phone, &it); err != nil {
		return "", err
	}
	return it.StaffID, nil
}

func (a *Access) ListStaff(ctx context.Context, companyID string) ([]staff.Staff, error) {
	in := &dynamodb.QueryInput{TableName: aws.String(a.Table), IndexName: aws.String("company"),
		KeyConditionExpression:    aws.String("company_pk = :c AND begins_with(company_sk, :p)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":c": str(companyKey(companyID)), ":p": str("STAFF#")}}
	return queryAll(ctx, a.DB, in, staffItem.staff)
}

func (a *Access) GetSession(ctx context.Context, hash string) (accounts.Session, error) {
	var it sessionItem
	if err := a.get(ctx, "SESSION#"+hash, &it); err != nil {
		return accounts.Session{}, err
	}
	if it.StaffID == "" { // what is left of a squeezed-out session that had ended
		return accounts.Session{}, accounts.ErrNotFound
	}
	return accounts.Session{Hash: hash, StaffID: it.StaffID, CompanyID: it.CompanyID, Name: it.Name, Phone: it.Phone,
		Role: staff.Role(it.Role), CSRF: it.CSRF, IP: it.IP, CreatedAt: parseTS(it.CreatedAt), LastSeen: parseTS(it.LastSeen),
		ExpiresAt: fromEpoch(it.ExpiresAt), SqueezedAt: parseTS(it.SqueezedAt), SqueezeReported: it.SqueezeReported}, nil
}

// update runs one conditional UpdateItem; a failed condition is ErrConflict.
func (a *Access) update(ctx context.Context, pk, expr, cond string, vals map[string]types.AttributeValue) error {
	_, err := a.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(a.Table), Key: accessKey(pk),
		UpdateExpression: aws.String(expr), ConditionExpression: aws.String(cond), ExpressionAttributeValues: vals})
	if isConditionFailed(err) {
		return accounts.ErrConflict
	}
	return err
}

func (a *Access) TouchSession(ctx context.Context, hash string, seen, at time.Time) error {
	return a.update(ctx, "SESSION#"+hash, "SET last_seen = :at", "last_seen = :seen",
		map[string]types.AttributeValue{":at": str(ts(at)), ":seen": str(ts(seen))})
}

func (a *Access) AuditSqueeze(ctx context.Context, hash string, e accounts.AuditEntry) error {
	audit, err := a.putAudit(e)
	if err != nil {
		return err
	}
	_, err = a.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Update: &types.Update{TableName: aws.String(a.Table), Key: accessKey("SESSION#" + hash),
			UpdateExpression:          aws.String("SET squeeze_reported = :t"),
			ConditionExpression:       aws.String("attribute_exists(staff_id) AND attribute_not_exists(squeeze_reported)"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":t": &types.AttributeValueMemberBOOL{Value: true}}}},
		audit,
	}})
	if _, failed := cancelled(err); failed {
		return accounts.ErrConflict
	}
	return err
}

func (a *Access) GetPasswordLink(ctx context.Context, hash string) (accounts.PasswordLink, error) {
	var it linkItem
	if err := a.get(ctx, "SETPW#"+hash, &it); err != nil {
		return accounts.PasswordLink{}, err
	}
	return accounts.PasswordLink{Hash: hash, StaffID: it.StaffID, ExpiresAt: fromEpoch(it.ExpiresAt)}, nil
}

func (it challengeItem) challenge(id string) accounts.Challenge {
	return accounts.Challenge{ID: id, StaffID: it.StaffID, Phone: it.Phone, OpenID: it.OpenID, CodeHash: it.CodeHash,
		Tries: it.Tries, Sends: it.Sends, SentAt: parseTS(it.SentAt), ExpiresAt: fromEpoch(it.ExpiresAt)}
}

func (a *Access) PutChallenge(ctx context.Context, c accounts.Challenge) error {
	item, err := attributevalue.MarshalMap(challengeItem{PK: "SMS#" + c.ID, SK: "A", StaffID: c.StaffID, Phone: c.Phone, OpenID: c.OpenID,
		CodeHash: c.CodeHash, Tries: c.Tries, Sends: c.Sends, SentAt: ts(c.SentAt), ExpiresAt: epoch(c.ExpiresAt)})
	if err != nil {
		return err
	}
	_, err = a.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(a.Table), Item: item, ConditionExpression: aws.String("attribute_not_exists(pk)")})
	if isConditionFailed(err) {
		return accounts.ErrConflict
	}
	return err
}

func (a *Access) GetChallenge(ctx context.Context, id string) (accounts.Challenge, error) {
	var it challengeItem
	if err := a.get(ctx, "SMS#"+id, &it); err != nil {
		return accounts.Challenge{}, err
	}
	return it.challenge(id), nil
}

func (a *Access) TryChallenge(ctx context.Context, id string, max int) (accounts.Challenge, error) {
	res, err := a.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(a.Table), Key: accessKey("SMS#" + id),
		UpdateExpression:                    aws.String("SET tries = tries + :one"),
		ConditionExpression:                 aws.String("attribute_exists(pk) AND tries < :max"),
		ExpressionAttributeValues:           map[string]types.AttributeValue{":one": num(1), ":max": num(int64(max))},
		ReturnValues:                        types.ReturnValueAllNew,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		if len(ccf.Item) == 0 {
			return accounts.Challenge{}, accounts.ErrNotFound
		}
		return accounts.Challenge{}, accounts.ErrConflict
	} else if err != nil {
		return accounts.Challenge{}, err
	}
	var it challengeItem
	if err := attributevalue.UnmarshalMap(res.Attributes, &it); err != nil {
		return accounts.Challenge{}, err
	}
	return it.challenge(id), nil
}

func (a *Access) ResendChallenge(ctx context.Context, id string, sends int, codeHash string, sentAt, expiresAt time.Time) error {
	return a.update(ctx, "SMS#"+id, "SET sends = :next, tries = :zero, code_hash = :h, sent_at = :at, expires_at = :exp", "sends = :sends",
		map[string]types.AttributeValue{":next": num(int64(sends + 1)), ":zero": num(0), ":h": str(codeHash), ":at": str(ts(sentAt)),
			":exp": num(epoch(expiresAt)), ":sends": num(int64(sends))})
}

func (it throttleItem) counter() auth.Counter {
	return auth.Counter{Count: it.Count, WindowStart: parseTS(it.WindowStart), Locks: it.Locks, LockedUntil: parseTS(it.LockedUntil),
		LastAt: parseTS(it.LastAt), Version: it.Version, ExpiresAt: fromEpoch(it.ExpiresAt)}
}

func (a *Access) GetThrottle(ctx context.Context, key string) (auth.Counter, error) {
	var it throttleItem
	err := a.get(ctx, "THROTTLE#"+key, &it)
	if errors.Is(err, accounts.ErrNotFound) {
		return auth.Counter{}, nil
	}
	return it.counter(), err
}

// UpdateThrottle: read, change, conditional put on the version read; again
// when another writer came first.
func (a *Access) UpdateThrottle(ctx context.Context, key string, change func(c *auth.Counter) (time.Time, error)) (auth.Counter, error) {
	for attempt := 0; attempt < 20; attempt++ {
		c, err := a.GetThrottle(ctx, key)
		if err != nil {
			return c, err
		}
		read := c.Version
		exp, err := change(&c)
		if err != nil {
			return c, err
		}
		c.Version, c.ExpiresAt = read+1, time.Unix(exp.Unix(), 0).UTC()
		item, err := attributevalue.MarshalMap(throttleItem{PK: "THROTTLE#" + key, SK: "A", Count: c.Count, WindowStart: ts(c.WindowStart),
			Locks: c.Locks, LockedUntil: ts(c.LockedUntil), LastAt: ts(c.LastAt), Version: c.Version, ExpiresAt: epoch(c.ExpiresAt)})
		if err != nil {
			return c, err
		}
		in := &dynamodb.PutItemInput{TableName: aws.String(a.Table), Item: item}
		in.ConditionExpression, in.ExpressionAttributeValues = putAtVersion(read)
		_, err = a.DB.PutItem(ctx, in)
		if isConditionFailed(err) {
			continue
		}
		return c, err
	}
	return auth.Counter{}, fmt.Errorf("store: throttle %s: too much contention", key)
}

func (a *Access) putAudit(e accounts.AuditEntry) (types.TransactWriteItem, error) {
	item, err := attributevalue.MarshalMap(toAuditItem(e))
	if err != nil {
		return types.TransactWriteItem{}, err
	}
	return types.TransactWriteItem{Put: &types.Put{TableName: aws.String(a.Table), Item: item,
		ConditionExpression: aws.String("attribute_not_exists(pk)")}}, nil
}

// cancelled reports the index of the first item whose condition failed in a
// cancelled transaction (-1: another reason, e.g. a transaction conflict).
func cancelled(err error) (int, bool) {
	var tce *types.TransactionCanceledException
	if !errors.As(err, &tce) {
		return -1, false
	}
	for i, r := range tce.CancellationReasons {
		if aws.ToString(r.Code) == "ConditionalCheckFailed" {
			return i, true
		}
	}
	return -1, true
}

// Apply writes a change as one TransactWriteItems.
func (a *Access) Apply(ctx context.Context, c accounts.Change) error {
	var items []types.TransactWriteItem
	table := aws.String(a.Table)
	phoneItem, bootstrapItem := -1, -1
	put := func(v any, cond string, vals map[string]types.AttributeValue) error {
		item, err := attributevalue.MarshalMap(v)
		if err != nil {
			return err
		}
		p := &types.Put{TableName: table, Item: item, ExpressionAttributeValues: vals}
		if cond != "" {
			p.ConditionExpression = aws.String(cond)
		}
		items = append(items, types.TransactWriteItem{Put: p})
		return nil
	}
	del := func(pk, cond string) {
		d := &types.Delete{TableName: table, Key: accessKey(pk)}
		if cond != "" {
			d.ConditionExpression = aws.String(cond)
		}
		items = append(items, types.TransactWriteItem{Delete: d})
	}
	if st := c.Staff; st != nil {
		if c.PrevVersion == 0 {
			if err := put(toStaffItem(*st), "attribute_not_exists(pk)", nil); err != nil {
				return err
			}
			phoneItem = len(items)
			if err := put(refItem{PK: "PHONE#" + st.Phone, SK: "A", StaffID: st.ID}, "attribute_not_exists(pk)", nil); err != nil {
				return err
			}
			if c.Bootstrap {
				bootstrapItem = len(items)
				if err := put(refItem{PK: "OPERATOR#FIRST", SK: "A", StaffID: st.ID}, "attribute_not_exists(pk)", nil); err != nil {
					return err
				}
			}
		} else if err := put(toStaffItem(*st), "version = :v", map[string]types.AttributeValue{":v": num(c.PrevVersion)}); err != nil {
			return err
		}
	}
	if s := c.PutSession; s != nil {
		if err := put(sessionItem{PK: "SESSION#" + s.Hash, SK: "A", StaffID: s.StaffID, CompanyID: s.CompanyID, Name: s.Name, Phone: s.Phone,
			Role: string(s.Role), CSRF: s.CSRF, IP: s.IP, CreatedAt: ts(s.CreatedAt), LastSeen: ts(s.LastSeen), ExpiresAt: epoch(s.ExpiresAt),
			SqueezedAt: ts(s.SqueezedAt), SqueezeReported: s.SqueezeReported}, "attribute_not_exists(pk)", nil); err != nil {
			return err
		}
	}
	if c.Squeeze != "" {
		// A session that ended meanwhile leaves a stub without staff_id,
		// which reads as not found and expires with the session it replaced.
		items = append(items, types.TransactWriteItem{Update: &types.Update{TableName: table, Key: accessKey("SESSION#" + c.Squeeze),
			UpdateExpression: aws.String("SET squeezed_at = :t, expires_at = if_not_exists(expires_at, :exp)"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":t": str(ts(c.SqueezedAt)),
				":exp": num(epoch(c.SqueezedAt.Add(auth.SessionAbsolute)))}}})
	}
	for _, h := range c.EndSessions {
		del("SESSION#"+h, "")
	}
	if l := c.PutLink; l != nil {
		if err := put(linkItem{PK: "SETPW#" + l.Hash, SK: "A", StaffID: l.StaffID, ExpiresAt: epoch(l.ExpiresAt)}, "", nil); err != nil {
			return err
		}
	}
	for _, h := range c.DeleteLinks {
		del("SETPW#"+h, "")
	}
	if c.UseChallenge != "" {
		del("SMS#"+c.UseChallenge, "attribute_exists(pk)")
	}
	if u := c.UseBindToken; u != nil {
		items = append(items, a.useBindToken(u))
	}
	for _, k := range c.ClearThrottles {
		del("THROTTLE#"+k, "")
	}
	for _, e := range c.Audit {
		it, err := a.putAudit(e)
		if err != nil {
			return err
		}
		items = append(items, it)
	}
	if len(items) == 0 {
		return nil
	}
	_, err := a.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	if i, failed := cancelled(err); failed {
		switch {
		case i >= 0 && i == phoneItem:
			return accounts.ErrPhoneTaken
		case i >= 0 && i == bootstrapItem:
			return accounts.ErrOperatorExists
		}
		return accounts.ErrConflict
	}
	return err
}

func (a *Access) AuditPage(ctx context.Context, companyID, cursor string, limit int) ([]accounts.AuditEntry, string, error) {
	pk := "AUDIT#" + companyKey(companyID)
	in := &dynamodb.QueryInput{TableName: aws.String(a.Table), KeyConditionExpression: aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(pk)},
		ScanIndexForward:          aws.Bool(false), Limit: aws.Int32(int32(limit + 1))}
	if cursor != "" {
		sk, err := base64.RawURLEncoding.DecodeString(cursor)
		if err != nil || !strings.Contains(string(sk), "#") {
			return nil, "", &accounts.InvalidError{Msg: "分页参数无效"}
		}
		in.ExclusiveStartKey = map[string]types.AttributeValue{"pk": str(pk), "sk": str(string(sk))}
	}
	res, err := a.DB.Query(ctx, in)
	if err != nil {
		return nil, "", err
	}
	var out []accounts.AuditEntry
	next := ""
	for i, raw := range res.Items {
		var it auditItem
		if err := attributevalue.UnmarshalMap(raw, &it); err != nil {
			return nil, "", err
		}
		if i == limit {
			next = base64.RawURLEncoding.EncodeToString([]byte(ts(out[limit-1].At) + "#" + out[limit-1].ID))
			break
		}
		out = append(out, it.entry())
	}
	return out, next, nil
}
