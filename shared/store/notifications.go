package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/estatepay/estatepay/shared/domain/notification"
)

// Notifications is the AccessTable adapter of the staff notifications (M7).
// Its items (sk "A" unless said; expires_at the TTL):
//
//	NOTIFYSUB#<company>#<community>  sk STAFF#<staff id>: a staff member's
//	                          preference for the community (payments on/off,
//	                          channel, the last delivery problem); index
//	                          "company": company_sk = NOTIFY#<staff>#<community>
//	NOTIFYWIN#<staff id>      the recipient's throttle: window end (until),
//	                          payments held back (count, fen, since), version;
//	                          while payments are held back, index "due":
//	                          due_pk NOTIFYDUE, due_at = until
//	NOTIFYMSG#<event id>#<staff id>       one per (event, recipient): the
//	                          dedupe marker and the outgoing message (status
//	                          held | queued | sent | failed); 30 days
//	NOTIFYMSG#digest#<staff id>#<until>   a window's digest; while queued,
//	                          index "due" (due_at = when to try again)
//	WXTOKEN#<app id>          the official account's access token and expiry,
//	                          shared by every instance
//
// A recipient's throttle and the message a payment produces are written in
// one transaction over the throttle version read, so concurrent instances
// never send two messages in one window, and a redelivered event finds its
// marker and sends nothing new.
type Notifications struct {
	DB    *dynamodb.Client
	Table string
}

// NotificationRepo is the notifications repository of the store.
func (s *Store) NotificationRepo() *Notifications { return &Notifications{DB: s.DB, Table: s.Access} }

const (
	notifyDue      = "NOTIFYDUE"
	notifyKeep     = 30 * 24 * time.Hour
	notifyRetryGap = time.Minute // a queued digest is tried again by the next flush after this
)

// Message statuses.
const (
	MsgHeld   = "held"   // the event was counted into a window; nothing to send
	MsgQueued = "queued" // to be sent
	MsgSent   = "sent"
	MsgFailed = "failed" // permanently (reason kept)
)

type subItem struct {
	PK          string `dynamodbav:"pk"`
	SK          string `dynamodbav:"sk"`
	CompanyID   string `dynamodbav:"company_id"`
	CommunityID string `dynamodbav:"community_id"`
	StaffID     string `dynamodbav:"staff_id"`
	Payments    bool   `dynamodbav:"payments"`
	Channel     string `dynamodbav:"channel"`
	OpenID      string `dynamodbav:"openid,omitempty"`
	Problem     string `dynamodbav:"problem,omitempty"`
	UpdatedAt   string `dynamodbav:"updated_at"`
	CompanyPK   string `dynamodbav:"company_pk"`
	CompanySK   string `dynamodbav:"company_sk"`
}

func subKey(companyID, communityID, staffID string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": str("NOTIFYSUB#" + companyID + "#" + communityID), "sk": str("STAFF#" + staffID)}
}

func (it subItem) pref() notification.Preference {
	return notification.Preference{CompanyID: it.CompanyID, CommunityID: it.CommunityID, StaffID: it.StaffID, Payments: it.Payments,
		Channel: notification.Channel(it.Channel), OpenID: it.OpenID, Problem: it.Problem, UpdatedAt: parseTS(it.UpdatedAt)}
}

// PutPreference stores a staff member's choice for a community (the latest
// choice wins; it clears a recorded delivery problem).
func (n *Notifications) PutPreference(ctx context.Context, p notification.Preference) error {
	if p.CompanyID == "" || p.CommunityID == "" || p.StaffID == "" {
		return fmt.Errorf("store: preference without company, community or staff")
	}
	if _, err := notification.ParseChannel(string(p.Channel)); err != nil {
		return err
	}
	it := subItem{PK: "NOTIFYSUB#" + p.CompanyID + "#" + p.CommunityID, SK: "STAFF#" + p.StaffID, CompanyID: p.CompanyID,
		CommunityID: p.CommunityID, StaffID: p.StaffID, Payments: p.Payments, Channel: string(p.Channel), OpenID: p.OpenID, UpdatedAt: ts(p.UpdatedAt),
		CompanyPK: companyKey(p.CompanyID), CompanySK: "NOTIFY#" + p.StaffID + "#" + p.CommunityID}
	item, err := attributevalue.MarshalMap(it)
	if err != nil {
		return err
	}
	_, err = n.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(n.Table), Item: item})
	return err
}

// Preferences returns a staff member's preferences (one per community chosen).
func (n *Notifications) Preferences(ctx context.Context, companyID, staffID string) ([]notification.Preference, error) {
	return n.queryPrefs(ctx, &dynamodb.QueryInput{TableName: aws.String(n.Table), IndexName: aws.String("company"),
		KeyConditionExpression:    aws.String("company_pk = :c AND begins_with(company_sk, :p)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":c": str(companyKey(companyID)), ":p": str("NOTIFY#" + staffID + "#")}})
}

// Subscribers returns who opted in to payment messages of a community,
// each with the official-account openid they bound, if any, as OpenID.
func (n *Notifications) Subscribers(ctx context.Context, companyID, communityID string) ([]notification.Preference, error) {
	all, err := n.queryPrefs(ctx, &dynamodb.QueryInput{TableName: aws.String(n.Table), ConsistentRead: aws.Bool(true),
		KeyConditionExpression:    aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str("NOTIFYSUB#" + companyID + "#" + communityID)}})
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, p := range all {
		if p.Payments {
			out = append(out, p)
		}
	}
	if err := n.withOfficialOpenIDs(ctx, out); err != nil { // the bound official-account openids (oabind.go)
		return nil, err
	}
	return out, nil
}

func (n *Notifications) queryPrefs(ctx context.Context, in *dynamodb.QueryInput) ([]notification.Preference, error) {
	return queryAll(ctx, n.DB, in, subItem.pref)
}

// SetProblem records why a recipient's messages cannot be delivered (shown
// in the console as what to do); "" clears it. A missing preference is left alone.
func (n *Notifications) SetProblem(ctx context.Context, companyID, communityID, staffID, problem string) error {
	_, err := n.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(n.Table), Key: subKey(companyID, communityID, staffID),
		UpdateExpression:          aws.String("SET problem = :p"),
		ConditionExpression:       aws.String("attribute_exists(pk)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": str(problem)}})
	if isConditionFailed(err) {
		return nil
	}
	return err
}

type winItem struct {
	PK           string `dynamodbav:"pk"`
	SK           string `dynamodbav:"sk"`
	StaffID      string `dynamodbav:"staff_id"`
	CompanyID    string `dynamodbav:"company_id"`
	CommunityID  string `dynamodbav:"community_id"` // of the latest payment held back
	Until        string `dynamodbav:"until"`
	PendingCount int64  `dynamodbav:"pending_count"`
	PendingFen   int64  `dynamodbav:"pending_fen"`
	PendingSince string `dynamodbav:"pending_since,omitempty"`
	Version      int64  `dynamodbav:"version"`
	DuePK        string `dynamodbav:"due_pk,omitempty"`
	DueAt        string `dynamodbav:"due_at,omitempty"`
}

func (it winItem) throttle() notification.Throttle {
	return notification.Throttle{Until: parseTS(it.Until), PendingCount: it.PendingCount, PendingFen: it.PendingFen,
		PendingSince: parseTS(it.PendingSince), Version: it.Version}
}

func toWinItem(staffID, companyID, communityID string, t notification.Throttle) winItem {
	it := winItem{PK: "NOTIFYWIN#" + staffID, SK: "A", StaffID: staffID, CompanyID: companyID, CommunityID: communityID,
		Until: ts(t.Until), PendingCount: t.PendingCount, PendingFen: t.PendingFen, PendingSince: ts(t.PendingSince), Version: t.Version}
	if t.PendingCount > 0 {
		it.DuePK, it.DueAt = notifyDue, ts(t.Until)
	}
	return it
}

type msgItem struct {
	PK          string `dynamodbav:"pk"`
	SK          string `dynamodbav:"sk"`
	StaffID     string `dynamodbav:"staff_id"`
	CompanyID   string `dynamodbav:"company_id"`
	CommunityID string `dynamodbav:"community_id"`
	Status      string `dynamodbav:"status"`
	Reason      string `dynamodbav:"reason,omitempty"`
	Kind        string `dynamodbav:"kind,omitempty"`
	Count       int64  `dynamodbav:"count"`
	SumFen      int64  `dynamodbav:"sum_fen"`
	Since       string `dynamodbav:"since,omitempty"`
	LastEvent   string `dynamodbav:"last_event,omitempty"`
	LastFen     int64  `dynamodbav:"last_fen"`
	LastAt      string `dynamodbav:"last_at,omitempty"`
	CreatedAt   string `dynamodbav:"created_at"`
	ExpiresAt   int64  `dynamodbav:"expires_at"`
	DuePK       string `dynamodbav:"due_pk,omitempty"`
	DueAt       string `dynamodbav:"due_at,omitempty"`
}

// Outgoing is a message a recipient is to be sent; Key names it for Delivered.
type Outgoing struct {
	Key         string
	StaffID     string
	CompanyID   string
	CommunityID string
	Message     notification.Message
}

func (it msgItem) outgoing() Outgoing {
	return Outgoing{Key: it.PK, StaffID: it.StaffID, CompanyID: it.CompanyID, CommunityID: it.CommunityID, Message: notification.Message{
		Kind: notification.Kind(it.Kind), Count: it.Count, SumFen: it.SumFen, Since: parseTS(it.Since),
		Last: notification.Payment{EventID: it.LastEvent, CommunityID: it.CommunityID, AmountFen: it.LastFen, At: parseTS(it.LastAt)}}}
}

func toMsgItem(pk, staffID, companyID, communityID string, m *notification.Message, now time.Time) msgItem {
	it := msgItem{PK: pk, SK: "A", StaffID: staffID, CompanyID: companyID, CommunityID: communityID, Status: MsgHeld,
		CreatedAt: ts(now), ExpiresAt: now.Add(notifyKeep).Unix()}
	if m != nil {
		it.Status, it.Kind, it.Count, it.SumFen, it.Since = MsgQueued, string(m.Kind), m.Count, m.SumFen, ts(m.Since)
		it.LastEvent, it.LastFen, it.LastAt = m.Last.EventID, m.Last.AmountFen, ts(m.Last.At)
	}
	return it
}

func (n *Notifications) getItem(ctx context.Context, pk string, out any) (bool, error) {
	res, err := n.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(n.Table), Key: accessKey(pk), ConsistentRead: aws.Bool(true)})
	if err != nil || len(res.Item) == 0 {
		return false, err
	}
	return true, attributevalue.UnmarshalMap(res.Item, out)
}

func putIf(table string, v any, cond string, vals map[string]types.AttributeValue) (types.TransactWriteItem, error) {
	item, err := attributevalue.MarshalMap(v)
	if err != nil {
		return types.TransactWriteItem{}, err
	}
	p := &types.Put{TableName: aws.String(table), Item: item, ConditionExpression: aws.String(cond)}
	if len(vals) > 0 {
		p.ExpressionAttributeValues = vals
	}
	return types.TransactWriteItem{Put: p}, nil
}

// putWindow is the throttle's write over the version read (t.Version).
func (n *Notifications) putWindow(staffID, companyID, communityID string, t notification.Throttle) (types.TransactWriteItem, error) {
	read := t.Version
	t.Version++
	if read == 0 {
		return putIf(n.Table, toWinItem(staffID, companyID, communityID, t), "attribute_not_exists(pk)", nil)
	}
	return putIf(n.Table, toWinItem(staffID, companyID, communityID, t), "version = :v", map[string]types.AttributeValue{":v": num(read)})
}

// Admit applies one payment event to one recipient, once: the first call
// for (event, recipient) counts it into the recipient's throttle and returns
// the message to send now, if the throttle lets one through (ok false: held
// back in the window). A later call for the same pair returns the message
// again only while it is still queued (its send failed: try again), else nothing.
func (n *Notifications) Admit(ctx context.Context, staffID, companyID string, p notification.Payment, now time.Time) (Outgoing, bool, error) {
	key := "NOTIFYMSG#" + p.EventID + "#" + staffID
	for attempt := 0; attempt < 20; attempt++ {
		var seen msgItem
		if found, err := n.getItem(ctx, key, &seen); err != nil {
			return Outgoing{}, false, err
		} else if found {
			return seen.outgoing(), seen.Status == MsgQueued, nil
		}
		var win winItem
		if _, err := n.getItem(ctx, "NOTIFYWIN#"+staffID, &win); err != nil {
			return Outgoing{}, false, err
		}
		t, m := win.throttle().Admit(p, now)
		w, err := n.putWindow(staffID, companyID, p.CommunityID, t)
		if err != nil {
			return Outgoing{}, false, err
		}
		mi := toMsgItem(key, staffID, companyID, p.CommunityID, m, now)
		mark, err := putIf(n.Table, mi, "attribute_not_exists(pk)", nil)
		if err != nil {
			return Outgoing{}, false, err
		}
		_, err = n.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{mark, w}})
		if _, lost := cancelled(err); lost {
			continue // another instance wrote the marker or the throttle first: read again
		}
		if err != nil {
			return Outgoing{}, false, err
		}
		return mi.outgoing(), m != nil, nil
	}
	return Outgoing{}, false, ErrConflict
}

// Flush returns the digests due at now: for every window that ended with
// payments held back, the digest (written once, with the throttle, so
// concurrent flushes make one), and every digest still queued a minute
// after it was last tried. At most limit items are examined per call.
func (n *Notifications) Flush(ctx context.Context, now time.Time, limit int32) ([]Outgoing, error) {
	res, err := n.DB.Query(ctx, &dynamodb.QueryInput{TableName: aws.String(n.Table), IndexName: aws.String("due"),
		KeyConditionExpression:    aws.String("due_pk = :d AND due_at <= :now"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":d": str(notifyDue), ":now": str(ts(now))},
		Limit:                     aws.Int32(limit)})
	if err != nil {
		return nil, err
	}
	var out []Outgoing
	for _, raw := range res.Items {
		pk := ""
		if v, ok := raw["pk"].(*types.AttributeValueMemberS); ok {
			pk = v.Value
		}
		switch {
		case strings.HasPrefix(pk, "NOTIFYMSG#"):
			o, ok, err := n.retry(ctx, pk, now)
			if err != nil {
				return out, err
			}
			if ok {
				out = append(out, o)
			}
		case strings.HasPrefix(pk, "NOTIFYWIN#"):
			var win winItem
			if err := attributevalue.UnmarshalMap(raw, &win); err != nil {
				return out, err
			}
			t, m := win.throttle().Flush(now)
			if m == nil {
				continue // the index lags the table: a payment already carried the held-back ones
			}
			w, err := n.putWindow(win.StaffID, win.CompanyID, win.CommunityID, t)
			if err != nil {
				return out, err
			}
			mi := toMsgItem("NOTIFYMSG#digest#"+win.StaffID+"#"+win.Until, win.StaffID, win.CompanyID, win.CommunityID, m, now)
			mi.DuePK, mi.DueAt = notifyDue, ts(now.Add(notifyRetryGap))
			mark, err := putIf(n.Table, mi, "attribute_not_exists(pk)", nil)
			if err != nil {
				return out, err
			}
			_, err = n.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{mark, w}})
			if _, lost := cancelled(err); lost {
				continue // another flush or a payment got there first
			}
			if err != nil {
				return out, err
			}
			out = append(out, mi.outgoing())
		}
	}
	return out, nil
}

// retry claims a queued digest for another attempt (its next try a minute
// later), so two flushes running at once do not both send it.
func (n *Notifications) retry(ctx context.Context, pk string, now time.Time) (Outgoing, bool, error) {
	res, err := n.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(n.Table), Key: accessKey(pk),
		UpdateExpression:         aws.String("SET due_at = :next"),
		ConditionExpression:      aws.String("#s = :q AND due_at <= :now"),
		ExpressionAttributeNames: map[string]string{"#s": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":next": str(ts(now.Add(notifyRetryGap))), ":q": str(MsgQueued),
			":now": str(ts(now))},
		ReturnValues: types.ReturnValueAllNew})
	if isConditionFailed(err) {
		return Outgoing{}, false, nil
	}
	if err != nil {
		return Outgoing{}, false, err
	}
	var it msgItem
	if err := attributevalue.UnmarshalMap(res.Attributes, &it); err != nil {
		return Outgoing{}, false, err
	}
	return it.outgoing(), true, nil
}

// Delivered records the outcome of a send: sent, or failed for good with
// the reason (a failure worth retrying is not recorded: the message stays
// queued for the queue's redelivery or the next flush).
func (n *Notifications) Delivered(ctx context.Context, key, status, reason string) error {
	_, err := n.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(n.Table), Key: accessKey(key),
		UpdateExpression:          aws.String("SET #s = :s, reason = :r REMOVE due_pk, due_at"),
		ConditionExpression:       aws.String("attribute_exists(pk)"),
		ExpressionAttributeNames:  map[string]string{"#s": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":s": str(status), ":r": str(reason)}})
	return err
}

// Token is a cached access token of an official account.
type Token struct {
	Value     string
	ExpiresAt time.Time
}

// GetToken returns the cached token of an app (zero when none).
func (n *Notifications) GetToken(ctx context.Context, appID string) (Token, error) {
	var it struct {
		Token   string `dynamodbav:"token"`
		Expires string `dynamodbav:"token_expires"`
	}
	if _, err := n.getItem(ctx, "WXTOKEN#"+appID, &it); err != nil {
		return Token{}, err
	}
	return Token{Value: it.Token, ExpiresAt: parseTS(it.Expires)}, nil
}

// PutToken caches an app's token for every instance (kept a day past its
// expiry by the TTL).
func (n *Notifications) PutToken(ctx context.Context, appID string, t Token) error {
	_, err := n.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(n.Table), Item: map[string]types.AttributeValue{
		"pk": str("WXTOKEN#" + appID), "sk": str("A"), "token": str(t.Value), "token_expires": str(ts(t.ExpiresAt)),
		"expires_at": num(t.ExpiresAt.Add(24 * time.Hour).Unix())}})
	return err
}

// Preference returns a staff member's preference for a community (ok false: none stored).
func (n *Notifications) Preference(ctx context.Context, companyID, communityID, staffID string) (notification.Preference, bool, error) {
	res, err := n.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(n.Table), Key: subKey(companyID, communityID, staffID)})
	if err != nil || len(res.Item) == 0 {
		return notification.Preference{}, false, err
	}
	var it subItem
	if err := attributevalue.UnmarshalMap(res.Item, &it); err != nil {
		return notification.Preference{}, false, err
	}
	p := []notification.Preference{it.pref()}
	if err := n.withOfficialOpenIDs(ctx, p); err != nil { // the bound official-account openid (oabind.go)
		return notification.Preference{}, false, err
	}
	return p[0], true, nil
}
