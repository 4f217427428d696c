package store

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/calendar"
	"github.com/estatepay/estatepay/shared/domain/order"
)

// CollectorIndex is the OrdersTable index of the payments through a staff
// member's codes (coll_pk = company#staff, coll_sk = created_at#id): a
// business manager's 收款记录 (M6).
const CollectorIndex = "collector"

// CollectorPartition names the collector index partition of one staff
// member of one company.
func CollectorPartition(companyID, staffID string) string { return companyID + "#" + staffID }

// CollectedPageSize is a page of 收款记录 (M6: 15 a page).
const CollectedPageSize = 15

// collectedKeywordReads is how many index entries a page with a keyword
// reads in its one Query (the keyword is matched on what it reads): such
// a page may hold fewer than CollectedPageSize records, with Next set.
const collectedKeywordReads = 300

// CollectedFilter narrows a manager's records.
type CollectedFilter struct {
	// Keyword matches, ignoring case, part of a payer field's value or of
	// the order id, or — read as yuan ("12", "12.34") — the amount exactly.
	Keyword string
	// Before is a cut-off day (Asia/Shanghai): only records made on or
	// before it, newest first — a jump straight back in time.
	Before calendar.Day
}

// Check reports the first problem with f as an ErrBadFilter.
func (f CollectedFilter) Check() error {
	if f.Before != "" {
		if _, err := calendar.ParseDay(string(f.Before)); err != nil {
			return badFilter("截止日期格式应为 YYYY-MM-DD")
		}
	}
	if utf8.RuneCountInString(f.Keyword) > MaxKeywordRunes {
		return badFilter(fmt.Sprintf("关键词最多 %d 个字", MaxKeywordRunes))
	}
	return nil
}

// Matches reports whether o passes the keyword (the day is the query's).
func (f CollectedFilter) Matches(o order.Order) bool {
	kw := strings.ToLower(strings.TrimSpace(f.Keyword))
	if kw == "" {
		return true
	}
	if fen, err := domain.ParseYuan(kw); err == nil && fen == o.AmountFen {
		return true
	}
	if strings.Contains(strings.ToLower(o.ID), kw) {
		return true
	}
	for _, v := range o.Fields {
		if strings.Contains(strings.ToLower(v), kw) {
			return true
		}
	}
	return false
}

// CollectedPage is one page of a manager's records and the cursor of the
// next ("" at the end).
type CollectedPage struct {
	Orders []order.Order
	Next   string
}

// QueryCollected returns a page of the payments through staffID's codes in
// companyID, newest first, after cursor ("" from the newest, or from the
// end of f.Before), in ONE Query of the collector index: without a keyword
// it reads one record past the page (so a full last page has no Next);
// with one it reads up to collectedKeywordReads records and keeps the
// matching ones (a short page with Next means: read on). The partition
// comes from the caller's identity, never from the cursor, so a cursor can
// only move within the caller's own records.
func (r *Orders) QueryCollected(ctx context.Context, companyID, staffID string, f CollectedFilter, after string) (CollectedPage, error) {
	if err := f.Check(); err != nil {
		return CollectedPage{}, err
	}
	if companyID == "" || staffID == "" {
		return CollectedPage{}, badFilter("缺少收款人")
	}
	pk := CollectorPartition(companyID, staffID)
	key := expression.Key("coll_pk").Equal(expression.Value(pk))
	hi := ""
	if f.Before != "" {
		hi = ts(f.Before.Next().Start()) // every record made before the next day's first instant
		key = key.And(expression.Key("coll_sk").LessThan(expression.Value(hi)))
	}
	ex, err := expression.NewBuilder().WithKeyCondition(key).Build()
	if err != nil {
		return CollectedPage{}, err
	}
	limit := int32(CollectedPageSize + 1)
	if strings.TrimSpace(f.Keyword) != "" {
		limit = collectedKeywordReads
	}
	in := &dynamodb.QueryInput{
		TableName: aws.String(r.Table), IndexName: aws.String(CollectorIndex),
		KeyConditionExpression: ex.KeyCondition(), ExpressionAttributeNames: ex.Names(), ExpressionAttributeValues: ex.Values(),
		ScanIndexForward: aws.Bool(false), Limit: aws.Int32(limit),
	}
	if after != "" {
		c, err := decodeCollected(after)
		if err != nil || (hi != "" && c.SK >= hi) {
			return CollectedPage{}, ErrBadCursor
		}
		in.ExclusiveStartKey = map[string]types.AttributeValue{"coll_pk": str(pk), "coll_sk": str(c.SK), "pk": str(c.ID)}
	}
	res, err := r.DB.Query(ctx, in)
	if err != nil {
		return CollectedPage{}, fmt.Errorf("store: collected: %w", err)
	}
	var page CollectedPage
	for _, item := range res.Items {
		o, err := DecodeOrder(item)
		if err != nil {
			return CollectedPage{}, err
		}
		if !f.Matches(o) {
			continue
		}
		if len(page.Orders) == CollectedPageSize {
			// One more than a page: the page ends at its last record.
			last := toItem(page.Orders[len(page.Orders)-1])
			page.Next = encodeCollected(cursor{SK: last.CollSK, ID: last.ID})
			return page, nil
		}
		page.Orders = append(page.Orders, o)
	}
	if lek := res.LastEvaluatedKey; len(lek) > 0 {
		sk, _ := lek["coll_sk"].(*types.AttributeValueMemberS)
		id, _ := lek["pk"].(*types.AttributeValueMemberS)
		if sk == nil || id == nil {
			return CollectedPage{}, fmt.Errorf("store: collected: unexpected LastEvaluatedKey")
		}
		// Everything up to here was read and matched or not: go on after it.
		page.Next = encodeCollected(cursor{SK: sk.Value, ID: id.Value})
	}
	return page, nil
}

func encodeCollected(c cursor) string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCollected(s string) (cursor, error) {
	var c cursor
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) > 256 || json.Unmarshal(b, &c) != nil || c.SK == "" || !strings.HasSuffix(c.SK, "#"+c.ID) || c.ID == "" {
		return cursor{}, ErrBadCursor
	}
	return c, nil
}
