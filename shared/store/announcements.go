package store

import (
	"context"
	"encoding/base64"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Announcements is the spoken payment announcements' store
// (AnnouncementsTable, 收款播报): one item per payment and audience, written
// by AnnounceFunction, read by the pages' polls (README, "Spoken payment
// announcements"):
//
//   - pk the audience: CO#<company> (the cashier console: every payment of
//     the company) or MGR#<company>#<staff> (a business manager: the
//     payments of their own codes);
//   - sk <paid time, UTC, millisecond RFC 3339>#<event id>: derived from the
//     event alone, so the conditional PutItem (attribute_not_exists) of a
//     redelivered or duplicated event writes nothing;
//   - expires_at: AnnouncementTTL after the payment (DynamoDB's TTL).
//
// A poll is one Query on the audience, sk after the cursor (Since).
type Announcements struct {
	DB    *dynamodb.Client
	Table string // AnnouncementsTable name
}

// AnnouncementTTL is how long an announcement is kept: a screen reopened the
// next morning still lists yesterday's last payments.
const AnnouncementTTL = 48 * time.Hour

// AnnouncementLookback is how far before the newest announcement a caught-up
// poll reads again: an announcement written late (its event retried by
// AnnounceFunction) with an earlier paid time is still delivered if it is at
// most this much older than the newest one the page has (the page drops
// the ones it has by id).
const AnnouncementLookback = 5 * time.Minute

// AnnouncementPageSize is the most announcements one poll returns.
const AnnouncementPageSize = 20

// Announcement is one payment as one audience hears it.
type Announcement struct {
	Audience      string    `dynamodbav:"pk"`
	SK            string    `dynamodbav:"sk"`
	EventID       string    `dynamodbav:"event_id"`
	CompanyID     string    `dynamodbav:"company_id"`
	CommunityID   string    `dynamodbav:"community_id"`
	CommunityName string    `dynamodbav:"community_name,omitempty"`
	Channel       string    `dynamodbav:"channel"` // 微信, 支付宝, 分付
	AmountFen     int64     `dynamodbav:"amount_fen"`
	Text          string    `dynamodbav:"text"`   // 微信收款 128.50 元
	Spoken        string    `dynamodbav:"spoken"` // 微信收款一百二十八元五角
	Tokens        []string  `dynamodbav:"tokens"` // the amount's clip keys, opening first
	OccurredAt    time.Time `dynamodbav:"occurred_at"`
	WrittenAt     time.Time `dynamodbav:"written_at"`
	ExpiresAt     int64     `dynamodbav:"expires_at"`
}

// CompanyAudience is the console's audience of a company.
func CompanyAudience(companyID string) string { return "CO#" + companyID }

// ManagerAudience is a business manager's audience (their own codes).
func ManagerAudience(companyID, staffID string) string { return "MGR#" + companyID + "#" + staffID }

const announceTime = "2006-01-02T15:04:05.000Z"

// AnnouncementSK is the sort key of an event's announcement.
func AnnouncementSK(occurred time.Time, eventID string) string {
	return occurred.UTC().Format(announceTime) + "#" + eventID
}

// ErrBadAnnouncement is an announcement missing its audience, event, company
// or time: a bug upstream.
var ErrBadAnnouncement = errors.New("store: announcement incomplete")

// PutAnnouncement writes a (Audience, SK set from OccurredAt and EventID)
// once: false, nil when the event's announcement is already there.
func (s *Announcements) PutAnnouncement(ctx context.Context, a Announcement, now time.Time) (bool, error) {
	if a.Audience == "" || a.EventID == "" || a.CompanyID == "" || a.OccurredAt.IsZero() {
		return false, ErrBadAnnouncement
	}
	a.SK = AnnouncementSK(a.OccurredAt, a.EventID)
	a.OccurredAt, a.WrittenAt = a.OccurredAt.UTC(), now.UTC()
	a.ExpiresAt = a.OccurredAt.Add(AnnouncementTTL).Unix()
	item, err := attributevalue.MarshalMap(a)
	if err != nil {
		return false, err
	}
	_, err = s.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.Table), Item: item,
		ConditionExpression: aws.String("attribute_not_exists(pk)")})
	if isConditionFailed(err) {
		return false, nil
	}
	return err == nil, err
}

// AnnouncementPage is one poll's answer: announcements oldest first, and
// the cursor of the next poll.
type AnnouncementPage struct {
	Items  []Announcement
	Cursor string
}

// Since is one poll of an audience. Without a cursor: the newest
// AnnouncementPageSize announcements (the page lists them and says none),
// and a cursor after the newest. With one: the announcements after it. A
// cursor is either a page boundary (p:, the poll ended on a full page: the
// next one reads on from there) or a watermark (w:, caught up: the next one
// reads from AnnouncementLookback before it again, to catch late writes;
// the page drops repeats by event id). now sets the watermark of an empty
// audience.
func (s *Announcements) Since(ctx context.Context, audience, cursor string, now time.Time) (AnnouncementPage, error) {
	if cursor == "" {
		out, err := s.DB.Query(ctx, &dynamodb.QueryInput{TableName: aws.String(s.Table),
			KeyConditionExpression:    aws.String("pk = :pk"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(audience)},
			ScanIndexForward:          aws.Bool(false), Limit: aws.Int32(AnnouncementPageSize)})
		if err != nil {
			return AnnouncementPage{}, err
		}
		var items []Announcement
		if err := attributevalue.UnmarshalListOfMaps(out.Items, &items); err != nil {
			return AnnouncementPage{}, err
		}
		slices.Reverse(items)
		mark := now.UTC().Format(announceTime) + "#"
		if len(items) > 0 {
			mark = items[len(items)-1].SK
		}
		return AnnouncementPage{Items: items, Cursor: encodeAnnounceCursor("w", mark)}, nil
	}
	kind, sk, err := decodeAnnounceCursor(cursor)
	if err != nil {
		return AnnouncementPage{}, err
	}
	from, mark := sk, sk
	if kind == "w" {
		t, _ := time.Parse(announceTime, sk[:len(announceTime)])
		from = t.Add(-AnnouncementLookback).Format(announceTime)
	}
	out, err := s.DB.Query(ctx, &dynamodb.QueryInput{TableName: aws.String(s.Table),
		KeyConditionExpression:    aws.String("pk = :pk AND sk > :from"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(audience), ":from": str(from)},
		Limit:                     aws.Int32(AnnouncementPageSize)})
	if err != nil {
		return AnnouncementPage{}, err
	}
	var items []Announcement
	if err := attributevalue.UnmarshalListOfMaps(out.Items, &items); err != nil {
		return AnnouncementPage{}, err
	}
	if len(items) > 0 && items[len(items)-1].SK > mark {
		mark = items[len(items)-1].SK
	}
	next := encodeAnnounceCursor("w", mark)
	if len(out.LastEvaluatedKey) > 0 && len(items) > 0 {
		next = encodeAnnounceCursor("p", items[len(items)-1].SK)
	}
	return AnnouncementPage{Items: items, Cursor: next}, nil
}

func encodeAnnounceCursor(kind, sk string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(kind + ":" + sk))
}

func decodeAnnounceCursor(c string) (kind, sk string, err error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(b) > 200 {
		return "", "", ErrBadCursor
	}
	kind, sk, ok := strings.Cut(string(b), ":")
	if !ok || (kind != "w" && kind != "p") || len(sk) < len(announceTime)+1 || sk[len(announceTime)] != '#' {
		return "", "", ErrBadCursor
	}
	if _, err := time.Parse(announceTime, sk[:len(announceTime)]); err != nil {
		return "", "", ErrBadCursor
	}
	return kind, sk, nil
}
