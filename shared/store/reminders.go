package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/estatepay/estatepay/shared/domain/bill"
	"github.com/estatepay/estatepay/shared/domain/calendar"
	"github.com/estatepay/estatepay/shared/domain/house"
	"github.com/estatepay/estatepay/shared/domain/reminder"
)

// Reminders is the arrears reminders' repository (催缴), in the BillsTable
// beside the bills they remind of:
//
//	REMINDSET        / <company>#<community>   a community's reminder settings (enabled, period_days)
//	REMIND#<house>   / THROTTLE                the house's throttle (last reminder, opt-out) at a version
//	REMIND#<house>   / R#<at>#<id>             one reminder (channel, bills, notice, status)
//	REMINDRUN#<company> / <community>          the last run's summary
//
// Owed bills are found through the sparse `overdue` index (Overdue). A
// reminder is claimed in one TransactWriteItems: the throttle at the
// version read, on condition that no reminder counts since now − period,
// and the new record; two runs racing for a house make one reminder.
type Reminders struct {
	DB    *dynamodb.Client
	Table string
}

// ReminderRepo returns the reminders' repository on the bills table.
func (s *Store) ReminderRepo() *Reminders { return &Reminders{DB: s.DB, Table: s.Bills} }

// ErrReminded: another run reminded the house (or changed its throttle) first.
var ErrReminded = errors.New("store: the house was reminded meanwhile")

const remindSetPK = "REMINDSET"

type remindSettingsItem struct {
	PK          string `dynamodbav:"pk"`
	SK          string `dynamodbav:"sk"`
	CompanyID   string `dynamodbav:"company_id"`
	CommunityID string `dynamodbav:"community_id"`
	Enabled     bool   `dynamodbav:"enabled"`
	PeriodDays  int    `dynamodbav:"period_days"`
}

// PutReminderSettings stores a community's reminder settings.
func (r *Reminders) PutReminderSettings(ctx context.Context, s reminder.Settings) error {
	if err := s.Check(); err != nil {
		return err
	}
	item, err := attributevalue.MarshalMap(remindSettingsItem{PK: remindSetPK, SK: s.CompanyID + "#" + s.CommunityID,
		CompanyID: s.CompanyID, CommunityID: s.CommunityID, Enabled: s.Enabled, PeriodDays: s.PeriodDays})
	if err != nil {
		return err
	}
	if _, err := r.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(r.Table), Item: item}); err != nil {
		return fmt.Errorf("store: put reminder settings: %w", err)
	}
	return nil
}

// ReminderSettings lists every community's reminder settings (one
// partition: a row per community that has any), or one company's.
func (r *Reminders) ReminderSettings(ctx context.Context, companyID string) ([]reminder.Settings, error) {
	in := &dynamodb.QueryInput{TableName: aws.String(r.Table), KeyConditionExpression: aws.String("pk = :p"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": str(remindSetPK)}}
	if companyID != "" {
		in.KeyConditionExpression = aws.String("pk = :p AND begins_with(sk, :c)")
		in.ExpressionAttributeValues[":c"] = str(companyID + "#")
	}
	var out []reminder.Settings
	for {
		res, err := r.DB.Query(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("store: reminder settings: %w", err)
		}
		for _, item := range res.Items {
			var it remindSettingsItem
			if err := attributevalue.UnmarshalMap(item, &it); err != nil {
				return nil, err
			}
			out = append(out, reminder.Settings{CompanyID: it.CompanyID, CommunityID: it.CommunityID, Enabled: it.Enabled, PeriodDays: it.PeriodDays})
		}
		if len(res.LastEvaluatedKey) == 0 {
			return out, nil
		}
		in.ExclusiveStartKey = res.LastEvaluatedKey
	}
}

// Overdue lists the community's bills owed and due before today from the
// sparse `overdue` index, every page (eventually consistent: a bill paid a
// moment ago may still be listed; the notice asks only what remains).
func (r *Reminders) Overdue(ctx context.Context, companyID, communityID string, today calendar.Day) ([]bill.Bill, error) {
	in := &dynamodb.QueryInput{TableName: aws.String(r.Table), IndexName: aws.String("overdue"),
		KeyConditionExpression: aws.String("od_pk = :p AND od_sk < :d"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": str(OverduePartition(companyID, communityID)),
			":d": str(string(today))}}
	var out []bill.Bill
	for {
		res, err := r.DB.Query(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("store: overdue bills: %w", err)
		}
		for _, item := range res.Items {
			b, err := DecodeBill(item)
			if err != nil {
				return nil, err
			}
			if b.CompanyID == companyID {
				out = append(out, b)
			}
		}
		if len(res.LastEvaluatedKey) == 0 {
			return out, nil
		}
		in.ExclusiveStartKey = res.LastEvaluatedKey
	}
}

type remindThrottleItem struct {
	PK         string `dynamodbav:"pk"`
	SK         string `dynamodbav:"sk"`
	CompanyID  string `dynamodbav:"company_id"`
	HouseID    string `dynamodbav:"house_id"`
	Version    int64  `dynamodbav:"version"`
	LastAt     string `dynamodbav:"last_at,omitempty"`
	LastUnix   int64  `dynamodbav:"last_unix"` // LastAt in seconds (0: none), the claim's condition
	LastID     string `dynamodbav:"last_id,omitempty"`
	PrevLastAt string `dynamodbav:"prev_last_at,omitempty"`
	PrevLastID string `dynamodbav:"prev_last_id,omitempty"`
	OptedOut   bool   `dynamodbav:"opted_out"`
	OptedBy    string `dynamodbav:"opted_by,omitempty"`
	OptedAt    string `dynamodbav:"opted_at,omitempty"`
	OpenID     string `dynamodbav:"open_id,omitempty"` // the official-account openid bound to the house
	BoundAt    string `dynamodbav:"bound_at,omitempty"`
}

type attemptItem struct {
	Channel string `dynamodbav:"channel"`
	To      string `dynamodbav:"to,omitempty"`
	OK      bool   `dynamodbav:"ok"`
	Error   string `dynamodbav:"error,omitempty"`
}

type reminderItem struct {
	PK          string        `dynamodbav:"pk"`
	SK          string        `dynamodbav:"sk"`
	ID          string        `dynamodbav:"id"`
	CompanyID   string        `dynamodbav:"company_id"`
	CommunityID string        `dynamodbav:"community_id"`
	HouseID     string        `dynamodbav:"house_id"`
	At          string        `dynamodbav:"at"`
	Channel     string        `dynamodbav:"channel"`
	To          string        `dynamodbav:"to,omitempty"`
	BillIDs     []string      `dynamodbav:"bill_ids"`
	AmountFen   int64         `dynamodbav:"amount_fen"`
	NoticeID    string        `dynamodbav:"notice_id,omitempty"`
	Status      string        `dynamodbav:"status"`
	Error       string        `dynamodbav:"error,omitempty"`
	DoneAt      string        `dynamodbav:"done_at,omitempty"`
	Attempts    []attemptItem `dynamodbav:"attempts,omitempty"`
}

func encodeAttempts(as []reminder.Attempt) []attemptItem {
	var out []attemptItem
	for _, a := range as {
		out = append(out, attemptItem{Channel: string(a.Channel), To: a.To, OK: a.OK, Error: a.Error})
	}
	return out
}

func remindPK(houseID string) string { return "REMIND#" + houseID }

func throttleKey(houseID string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": str(remindPK(houseID)), "sk": str("THROTTLE")}
}

func reminderSK(r reminder.Record) string { return "R#" + ts(r.At) + "#" + r.ID }

func encodeThrottle(t reminder.Throttle) (map[string]types.AttributeValue, error) {
	it := remindThrottleItem{PK: remindPK(t.HouseID), SK: "THROTTLE", CompanyID: t.CompanyID, HouseID: t.HouseID, Version: t.Version,
		LastAt: ts(t.LastAt), LastID: t.LastID, PrevLastAt: ts(t.PrevLastAt), PrevLastID: t.PrevLastID,
		OptedOut: t.OptedOut, OptedBy: t.OptedBy, OptedAt: ts(t.OptedAt), OpenID: t.OpenID, BoundAt: ts(t.BoundAt)}
	if !t.LastAt.IsZero() {
		it.LastUnix = t.LastAt.Unix()
	}
	return attributevalue.MarshalMap(it)
}

func decodeThrottle(item map[string]types.AttributeValue) (reminder.Throttle, error) {
	var it remindThrottleItem
	if err := attributevalue.UnmarshalMap(item, &it); err != nil {
		return reminder.Throttle{}, fmt.Errorf("store: decode throttle: %w", err)
	}
	return reminder.Throttle{CompanyID: it.CompanyID, HouseID: it.HouseID, Version: it.Version,
		LastAt: parseTS(it.LastAt), LastID: it.LastID, PrevLastAt: parseTS(it.PrevLastAt), PrevLastID: it.PrevLastID,
		OptedOut: it.OptedOut, OptedBy: it.OptedBy, OptedAt: parseTS(it.OptedAt), OpenID: it.OpenID, BoundAt: parseTS(it.BoundAt)}, nil
}

func encodeReminder(r reminder.Record) (map[string]types.AttributeValue, error) {
	return attributevalue.MarshalMap(reminderItem{PK: remindPK(r.HouseID), SK: reminderSK(r), ID: r.ID, CompanyID: r.CompanyID,
		CommunityID: r.CommunityID, HouseID: r.HouseID, At: ts(r.At), Channel: string(r.Channel), To: r.To, BillIDs: r.BillIDs,
		AmountFen: r.AmountFen, NoticeID: r.NoticeID, Status: string(r.Status), Error: r.Error, DoneAt: ts(r.DoneAt),
		Attempts: encodeAttempts(r.Attempts)})
}

func decodeReminder(item map[string]types.AttributeValue) (reminder.Record, error) {
	var it reminderItem
	if err := attributevalue.UnmarshalMap(item, &it); err != nil {
		return reminder.Record{}, fmt.Errorf("store: decode reminder: %w", err)
	}
	rec := reminder.Record{ID: it.ID, CompanyID: it.CompanyID, CommunityID: it.CommunityID, HouseID: it.HouseID, At: parseTS(it.At),
		Channel: reminder.Channel(it.Channel), To: it.To, BillIDs: it.BillIDs, AmountFen: it.AmountFen, NoticeID: it.NoticeID,
		Status: reminder.Status(it.Status), Error: it.Error, DoneAt: parseTS(it.DoneAt)}
	for _, a := range it.Attempts {
		rec.Attempts = append(rec.Attempts, reminder.Attempt{Channel: reminder.Channel(a.Channel), To: a.To, OK: a.OK, Error: a.Error})
	}
	return rec, nil
}

// Throttle reads a house's throttle (strongly consistent); a house never
// reminded nor opted out has the zero throttle at version 0.
func (r *Reminders) Throttle(ctx context.Context, companyID, houseID string) (reminder.Throttle, error) {
	res, err := r.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(r.Table), Key: throttleKey(houseID), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return reminder.Throttle{}, fmt.Errorf("store: get reminder throttle: %w", err)
	}
	zero := reminder.Throttle{CompanyID: companyID, HouseID: houseID}
	if len(res.Item) == 0 {
		return zero, nil
	}
	t, err := decodeThrottle(res.Item)
	if err != nil {
		return reminder.Throttle{}, err
	}
	if t.CompanyID != companyID {
		return zero, fmt.Errorf("store: reminder throttle of %s belongs to another company", houseID)
	}
	return t, nil
}

// putThrottle writes next over the throttle read as before (its version;
// absent when before.Version is 0), with extra conditions and more items
// in the same transaction.
func (r *Reminders) putThrottle(ctx context.Context, before, next reminder.Throttle, cond string, vals map[string]types.AttributeValue, more ...types.TransactWriteItem) error {
	next.Version = before.Version + 1
	item, err := encodeThrottle(next)
	if err != nil {
		return err
	}
	if vals == nil {
		vals = map[string]types.AttributeValue{}
	}
	c := "attribute_not_exists(pk)"
	if before.Version > 0 {
		c, vals[":v"] = "version = :v", num(before.Version)
	}
	if cond != "" {
		c = "(" + c + ") AND (" + cond + ")"
	}
	put := &types.Put{TableName: aws.String(r.Table), Item: item, ConditionExpression: aws.String(c)}
	if len(vals) > 0 {
		put.ExpressionAttributeValues = vals
	}
	items := append([]types.TransactWriteItem{{Put: put}}, more...)
	_, err = r.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	switch {
	case err == nil:
		return nil
	case isTxLost(err):
		return ErrReminded
	}
	return fmt.Errorf("store: write reminder throttle: %w", err)
}

// Claim records reminder rec (status sending) and claims the house's
// period for it in one TransactWriteItems: the throttle written over t at
// its version, on condition that its last reminder is not after now −
// period, and the record put new. ErrReminded: another run got there first.
func (r *Reminders) Claim(ctx context.Context, t reminder.Throttle, rec reminder.Record, period time.Duration) (reminder.Throttle, error) {
	item, err := encodeReminder(rec)
	if err != nil {
		return t, err
	}
	next := reminder.Claim(t, rec)
	cut := rec.At.Add(-period).Unix()
	err = r.putThrottle(ctx, t, next, "attribute_not_exists(last_unix) OR last_unix <= :cut",
		map[string]types.AttributeValue{":cut": num(cut)},
		types.TransactWriteItem{Put: &types.Put{TableName: aws.String(r.Table), Item: item, ConditionExpression: aws.String("attribute_not_exists(pk)")}})
	if err != nil {
		return t, err
	}
	next.Version = t.Version + 1
	return next, nil
}

// Finish records the send's result on rec (sent, or failed with its
// error). A failed send gives the period back in the same transaction (the
// throttle, if rec still holds its claim): the next run retries the house.
func (r *Reminders) Finish(ctx context.Context, t reminder.Throttle, rec reminder.Record) error {
	update := types.TransactWriteItem{Update: &types.Update{TableName: aws.String(r.Table),
		Key:                      map[string]types.AttributeValue{"pk": str(remindPK(rec.HouseID)), "sk": str(reminderSK(rec))},
		UpdateExpression:         aws.String("SET #s = :s, done_at = :d, #e = :e, channel = :c, #to = :to"),
		ConditionExpression:      aws.String("#s = :sending"),
		ExpressionAttributeNames: map[string]string{"#s": "status", "#e": "error", "#to": "to"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":s": str(string(rec.Status)), ":d": str(ts(rec.DoneAt)), ":e": str(rec.Error), ":sending": str(string(reminder.Sending)),
			":c": str(string(rec.Channel)), ":to": str(rec.To)}}}
	if len(rec.Attempts) > 0 { // the sends tried (an official-account message, then the SMS)
		av, err := attributevalue.Marshal(encodeAttempts(rec.Attempts))
		if err != nil {
			return err
		}
		update.Update.UpdateExpression = aws.String(*update.Update.UpdateExpression + ", attempts = :a")
		update.Update.ExpressionAttributeValues[":a"] = av
	}
	if rec.Status == reminder.Failed {
		if back, ok := reminder.GiveBack(t, rec); ok {
			return r.putThrottle(ctx, t, back, "", nil, update)
		}
	}
	_, err := r.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{update}})
	if err != nil {
		return fmt.Errorf("store: finish reminder: %w", err)
	}
	return nil
}

// SetOptOut marks a house 不接收催缴 (or takes the mark back), by staff or
// by the resident's 退订 link, as a conditional write on its throttle.
func (r *Reminders) SetOptOut(ctx context.Context, companyID, houseID string, out bool, by string, at time.Time) error {
	for attempt := 0; attempt < maxAttempts; attempt++ {
		t, err := r.Throttle(ctx, companyID, houseID)
		if err != nil {
			return err
		}
		if t.OptedOut == out {
			return nil
		}
		next := t
		next.OptedOut, next.OptedBy, next.OptedAt = out, by, at
		if err := r.putThrottle(ctx, t, next, "", nil); !errors.Is(err, ErrReminded) {
			return err
		}
	}
	return ErrReminded
}

// SetOpenID binds a resident's official-account openid to the house (""
// unbinds), a conditional write on its throttle at the version read (a
// claim or an opt-out in between: read again, at most maxAttempts times).
// It answers the throttle as it was before.
func (r *Reminders) SetOpenID(ctx context.Context, companyID, houseID, openid string, at time.Time) (reminder.Throttle, error) {
	for attempt := 0; attempt < maxAttempts; attempt++ {
		t, err := r.Throttle(ctx, companyID, houseID)
		if err != nil {
			return t, err
		}
		if t.OpenID == openid {
			return t, nil
		}
		next := t
		next.OpenID, next.BoundAt = openid, at
		if openid == "" {
			next.BoundAt = time.Time{}
		}
		if err := r.putThrottle(ctx, t, next, "", nil); !errors.Is(err, ErrReminded) {
			return t, err
		}
	}
	return reminder.Throttle{}, ErrReminded
}

// HouseReminders reads a house's throttle and its newest reminders (at most
// limit), in one Query.
func (r *Reminders) HouseReminders(ctx context.Context, companyID, houseID string, limit int32) (reminder.Throttle, []reminder.Record, error) {
	res, err := r.DB.Query(ctx, &dynamodb.QueryInput{TableName: aws.String(r.Table), KeyConditionExpression: aws.String("pk = :p"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": str(remindPK(houseID))},
		ScanIndexForward:          aws.Bool(false), Limit: aws.Int32(limit + 1)}) // THROTTLE sorts after R#…
	t := reminder.Throttle{CompanyID: companyID, HouseID: houseID}
	if err != nil {
		return t, nil, fmt.Errorf("store: house reminders: %w", err)
	}
	var out []reminder.Record
	for _, item := range res.Items {
		if sk, ok := item["sk"].(*types.AttributeValueMemberS); ok && sk.Value == "THROTTLE" {
			got, err := decodeThrottle(item)
			if err != nil {
				return t, nil, err
			}
			if got.CompanyID == companyID {
				t = got
			}
			continue
		}
		rec, err := decodeReminder(item)
		if err != nil {
			return t, nil, err
		}
		if rec.CompanyID == companyID && len(out) < int(limit) {
			out = append(out, rec)
		}
	}
	return t, out, nil
}

type remindRunItem struct {
	PK      string `dynamodbav:"pk"`
	SK      string `dynamodbav:"sk"`
	Summary string `dynamodbav:"summary"`
}

// PutRun keeps a community's last run summary (JSON, as the function reports it).
func (r *Reminders) PutRun(ctx context.Context, companyID, communityID, summaryJSON string) error {
	item, err := attributevalue.MarshalMap(remindRunItem{PK: "REMINDRUN#" + companyID, SK: communityID, Summary: summaryJSON})
	if err != nil {
		return err
	}
	if _, err := r.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(r.Table), Item: item}); err != nil {
		return fmt.Errorf("store: put reminder run: %w", err)
	}
	return nil
}

// Runs reads a company's last run summaries, by community.
func (r *Reminders) Runs(ctx context.Context, companyID string) (map[string]string, error) {
	res, err := r.DB.Query(ctx, &dynamodb.QueryInput{TableName: aws.String(r.Table), KeyConditionExpression: aws.String("pk = :p"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": str("REMINDRUN#" + companyID)}})
	if err != nil {
		return nil, fmt.Errorf("store: reminder runs: %w", err)
	}
	out := map[string]string{}
	for _, item := range res.Items {
		var it remindRunItem
		if err := attributevalue.UnmarshalMap(item, &it); err != nil {
			return nil, err
		}
		out[it.SK] = it.Summary
	}
	return out, nil
}

// BackfillOverdue rewrites the `overdue` index attributes of a community's
// bills written before the index existed: it pages the `community` index
// (a Query, never a Scan) and, for each owed bill without od_pk, sets them
// on condition that the bill is still at the version read (a bill changed
// meanwhile was written whole by the new code, with its attributes). It
// returns how many bills it updated.
func (r *Reminders) BackfillOverdue(ctx context.Context, companyID, communityID string) (int, error) {
	in := &dynamodb.QueryInput{TableName: aws.String(r.Table), IndexName: aws.String("community"),
		KeyConditionExpression:    aws.String("comm_pk = :p"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": str(CommunityPartition("B", companyID, communityID))}}
	n := 0
	for {
		res, err := r.DB.Query(ctx, in)
		if err != nil {
			return n, fmt.Errorf("store: backfill overdue: %w", err)
		}
		for _, item := range res.Items {
			if _, has := item["od_pk"]; has {
				continue
			}
			b, err := DecodeBill(item)
			if err != nil {
				return n, err
			}
			if b.Status.Final() || b.DueDate == "" {
				continue
			}
			_, err = r.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(r.Table), Key: billKey(b.ID),
				UpdateExpression:    aws.String("SET od_pk = :p, od_sk = :s"),
				ConditionExpression: aws.String("version = :v AND attribute_not_exists(od_pk)"),
				ExpressionAttributeValues: map[string]types.AttributeValue{":p": str(OverduePartition(b.CompanyID, b.CommunityID)),
					":s": str(OverdueSK(b)), ":v": &types.AttributeValueMemberN{Value: strconv.FormatInt(b.Version, 10)}}})
			switch {
			case err == nil:
				n++
			case isConditionFailed(err):
			default:
				return n, fmt.Errorf("store: backfill bill %s: %w", b.ID, err)
			}
		}
		if len(res.LastEvaluatedKey) == 0 {
			return n, nil
		}
		in.ExclusiveStartKey = res.LastEvaluatedKey
	}
}

// HouseByID reads a house by its id alone (the 退订 link names no company:
// its signature is checked against the company stored on the house).
func (r *Reminders) HouseByID(ctx context.Context, houseID string) (house.House, error) {
	res, err := r.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(r.Table), Key: houseKey(houseID), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return house.House{}, fmt.Errorf("store: get house: %w", err)
	}
	if len(res.Item) == 0 {
		return house.House{}, house.ErrNotFound
	}
	return decodeHouse(res.Item)
}
