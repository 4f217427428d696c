package store

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
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

// RecordFilter selects a community's collection records (C7). The zero value
// selects them all.
type RecordFilter struct {
	// From and To are business days (Asia/Shanghai), both included; "" leaves
	// that end open. They become a range of the records index's sort key
	// (paid_at), so a day range reads only that range.
	From, To calendar.Day
	Channel  domain.Channel // "" any
	Status   order.Status   // "" any; PAID or REFUNDED (the records index holds nothing else)
	MinFen   int64          // 0: no lower bound; inclusive
	MaxFen   int64          // 0: no upper bound; inclusive
	// Keyword matches, ignoring case, part of a payer field's value (房号 …),
	// the payer id, the order id or the provider's transaction id.
	Keyword string
	// HouseID keeps the payments of one house (notice payments name it).
	HouseID string
}

// MaxKeywordRunes bounds RecordFilter.Keyword.
const MaxKeywordRunes = 50

// ErrBadFilter wraps a reason a filter cannot be applied; the text after the
// prefix is Chinese, for people.
var ErrBadFilter = errors.New("store: invalid record filter")

func badFilter(msg string) error { return fmt.Errorf("%w: %s", ErrBadFilter, msg) }

// FilterMessage is the Chinese reason inside an ErrBadFilter error.
func FilterMessage(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, ErrBadFilter.Error()+": "); i >= 0 {
		return msg[i+len(ErrBadFilter.Error())+2:]
	}
	return "筛选条件无效"
}

// Check reports the first problem with f as an ErrBadFilter.
func (f RecordFilter) Check() error {
	if f.From != "" {
		if _, err := calendar.ParseDay(string(f.From)); err != nil {
			return badFilter("开始日期格式应为 YYYY-MM-DD")
		}
	}
	if f.To != "" {
		if _, err := calendar.ParseDay(string(f.To)); err != nil {
			return badFilter("结束日期格式应为 YYYY-MM-DD")
		}
	}
	switch {
	case f.From != "" && f.To != "" && f.From > f.To:
		return badFilter("开始日期不能晚于结束日期")
	case f.Channel != "" && f.Channel != domain.WeChat && f.Channel != domain.Alipay:
		return badFilter("支付渠道只能是微信支付或支付宝")
	case f.Status != "" && f.Status != order.Paid && f.Status != order.Refunded:
		return badFilter("状态只能是已支付或已退款")
	case f.MinFen < 0 || f.MaxFen < 0:
		return badFilter("金额不能为负数")
	case f.MaxFen > 0 && f.MinFen > f.MaxFen:
		return badFilter("最低金额不能高于最高金额")
	case utf8.RuneCountInString(f.Keyword) > MaxKeywordRunes:
		return badFilter(fmt.Sprintf("关键词最多 %d 个字", MaxKeywordRunes))
	}
	return nil
}

// narrows reports whether f leaves records out other than by date.
func (f RecordFilter) narrows() bool {
	return f.Channel != "" || f.Status != "" || f.MinFen > 0 || f.MaxFen > 0 || f.Keyword != "" || f.HouseID != ""
}

// Matches applies f to one order in memory (the same rules the query
// applies in DynamoDB and here).
func (f RecordFilter) Matches(o order.Order) bool {
	if o.PaidAt.IsZero() {
		return false
	}
	day := calendar.BusinessDay(o.PaidAt)
	switch {
	case f.From != "" && day < f.From, f.To != "" && day > f.To,
		f.Channel != "" && o.Channel != f.Channel,
		f.Status != "" && o.Status != f.Status,
		f.MinFen > 0 && o.AmountFen < f.MinFen,
		f.MaxFen > 0 && o.AmountFen > f.MaxFen,
		f.HouseID != "" && o.HouseID != f.HouseID:
		return false
	}
	return f.matchesKeyword(o)
}

func (f RecordFilter) matchesKeyword(o order.Order) bool {
	kw := strings.ToLower(strings.TrimSpace(f.Keyword))
	if kw == "" {
		return true
	}
	has := func(s string) bool { return s != "" && strings.Contains(strings.ToLower(s), kw) }
	if has(o.PayerID) || has(o.ID) || has(o.ProviderTxnID) {
		return true
	}
	for _, v := range o.Fields {
		if has(v) {
			return true
		}
	}
	return false
}

// Bounds on one QueryRecords call.
const (
	// MaxRecordsPage is the largest page QueryRecords returns.
	MaxRecordsPage = 200
	// maxReadsPerPage bounds the Query calls of one QueryRecords call (each
	// reads at most readBatch items or 1 MB) while filters leave most items
	// out; past it the page comes back short, with a cursor to go on from.
	maxReadsPerPage = 25
	// readBatch is the Query Limit when filters may leave items out.
	readBatch = 200
)

// recordsQuery is one walk over a community's records index, newest first,
// in the sort-key range of the filter's days, with the filter's other
// conditions as a FilterExpression.
type recordsQuery struct {
	in     *dynamodb.QueryInput
	filter RecordFilter
	lo, hi string // sort-key range: lo <= rec_sk < hi; "" open
}

func (r *Orders) recordsQuery(communityID string, f RecordFilter) (recordsQuery, error) {
	if err := f.Check(); err != nil {
		return recordsQuery{}, err
	}
	q := recordsQuery{filter: f}
	key := expression.Key("rec_pk").Equal(expression.Value(communityID))
	// rec_sk is "<paid_at UTC>#<id>": every record paid at or after the
	// first instant of From sorts at or after that instant's string, every
	// record paid before the day after To sorts before its.
	if f.From != "" {
		q.lo = ts(f.From.Start())
	}
	if f.To != "" {
		q.hi = ts(f.To.Next().Start())
	}
	switch {
	case q.lo != "" && q.hi != "":
		// BETWEEN is inclusive; nothing is stored under exactly hi (a sort
		// key always has "#id" after the time), so this is lo <= sk < hi.
		key = key.And(expression.Key("rec_sk").Between(expression.Value(q.lo), expression.Value(q.hi)))
	case q.lo != "":
		key = key.And(expression.Key("rec_sk").GreaterThanEqual(expression.Value(q.lo)))
	case q.hi != "":
		key = key.And(expression.Key("rec_sk").LessThan(expression.Value(q.hi)))
	}
	b := expression.NewBuilder().WithKeyCondition(key)
	var conds []expression.ConditionBuilder
	if f.Channel != "" {
		conds = append(conds, expression.Name("channel").Equal(expression.Value(f.Channel)))
	}
	if f.Status != "" {
		conds = append(conds, expression.Name("status").Equal(expression.Value(f.Status)))
	}
	if f.MinFen > 0 {
		conds = append(conds, expression.Name("amount_fen").GreaterThanEqual(expression.Value(f.MinFen)))
	}
	if f.MaxFen > 0 {
		conds = append(conds, expression.Name("amount_fen").LessThanEqual(expression.Value(f.MaxFen)))
	}
	if f.HouseID != "" {
		conds = append(conds, expression.Name("house_id").Equal(expression.Value(f.HouseID)))
	}
	switch len(conds) {
	case 0:
	case 1:
		b = b.WithFilter(conds[0])
	default:
		b = b.WithFilter(expression.And(conds[0], conds[1], conds[2:]...))
	}
	ex, err := b.Build()
	if err != nil {
		return recordsQuery{}, err
	}
	q.in = &dynamodb.QueryInput{
		TableName: aws.String(r.Table), IndexName: aws.String("records"),
		KeyConditionExpression: ex.KeyCondition(), FilterExpression: ex.Filter(),
		ExpressionAttributeNames: ex.Names(), ExpressionAttributeValues: ex.Values(),
		ScanIndexForward: aws.Bool(false),
	}
	return q, nil
}

// position is where a walk stands: the index key of the last item read.
type position struct{ sk, id string }

func (p position) cursor() string {
	b, _ := json.Marshal(cursor{SK: p.sk, ID: p.id})
	return base64.RawURLEncoding.EncodeToString(b)
}

func (p position) startKey(communityID string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"rec_pk": str(communityID), "rec_sk": str(p.sk), "pk": str(p.id)}
}

// startAfter reads a cursor of communityID's records walk. It must name a
// record of this community exactly as stored, inside the filter's days.
func (r *Orders) startAfter(ctx context.Context, communityID string, q recordsQuery, after string) (position, error) {
	b, err := base64.RawURLEncoding.DecodeString(after)
	var c cursor
	if err != nil || json.Unmarshal(b, &c) != nil || c.SK == "" || c.ID == "" {
		return position{}, ErrBadCursor
	}
	if (q.lo != "" && c.SK < q.lo) || (q.hi != "" && c.SK >= q.hi) {
		return position{}, ErrBadCursor // outside the days asked for: DynamoDB would refuse it
	}
	last, err := r.Get(ctx, c.ID)
	if errors.Is(err, order.ErrNotFound) || (err == nil && (last.CommunityID != communityID || last.PaidAt.IsZero() || toItem(last).RecSK != c.SK)) {
		return position{}, ErrBadCursor
	}
	if err != nil {
		return position{}, err
	}
	return position{sk: c.SK, id: c.ID}, nil
}

// QueryRecords returns up to limit (1..MaxRecordsPage) of a community's
// records that pass f, newest first, after the cursor `after` ("" from the
// newest). DynamoDB applies a FilterExpression after Limit, so a Query may
// return fewer matching items than asked for while more remain: QueryRecords
// reads on until the page is full or the days end. It stops early, with a
// short page and a cursor, after maxReadsPerPage reads (about 5000 items),
// so a filter matching almost nothing in a long range cannot hold a request
// for long. Next is "" when there is nothing more.
func (r *Orders) QueryRecords(ctx context.Context, communityID string, f RecordFilter, after string, limit int) (RecordsPage, error) {
	if limit < 1 || limit > MaxRecordsPage {
		return RecordsPage{}, badFilter(fmt.Sprintf("每页条数应为 1-%d", MaxRecordsPage))
	}
	q, err := r.recordsQuery(communityID, f)
	if err != nil {
		return RecordsPage{}, err
	}
	var start map[string]types.AttributeValue
	if after != "" {
		p, err := r.startAfter(ctx, communityID, q, after)
		if err != nil {
			return RecordsPage{}, err
		}
		start = p.startKey(communityID)
	}
	var page RecordsPage
	for reads := 1; ; reads++ {
		in := *q.in
		in.ExclusiveStartKey = start
		// Without filters every item read is a record of the page: read
		// exactly what is missing. With filters, read in batches.
		batch := int32(limit - len(page.Orders))
		if f.narrows() && batch < readBatch {
			batch = readBatch
		}
		in.Limit = aws.Int32(batch)
		res, err := r.DB.Query(ctx, &in)
		if err != nil {
			return RecordsPage{}, fmt.Errorf("store: records: %w", err)
		}
		for i, item := range res.Items {
			o, err := DecodeOrder(item)
			if err != nil {
				return RecordsPage{}, err
			}
			if !f.matchesKeyword(o) {
				continue
			}
			page.Orders = append(page.Orders, o)
			if len(page.Orders) == limit {
				// Full: go on after this record next time, unless it was
				// the last one there is.
				it := toItem(o)
				if len(res.LastEvaluatedKey) > 0 || i < len(res.Items)-1 {
					page.Next = position{sk: it.RecSK, id: it.ID}.cursor()
				}
				return page, nil
			}
		}
		if len(res.LastEvaluatedKey) == 0 {
			return page, nil
		}
		start = res.LastEvaluatedKey
		if reads >= maxReadsPerPage {
			p := lastPosition(start)
			if p.id == "" {
				return RecordsPage{}, fmt.Errorf("store: records: unexpected LastEvaluatedKey")
			}
			page.Next = p.cursor()
			return page, nil
		}
	}
}

func lastPosition(lek map[string]types.AttributeValue) position {
	sk, _ := lek["rec_sk"].(*types.AttributeValueMemberS)
	id, _ := lek["pk"].(*types.AttributeValueMemberS)
	if sk == nil || id == nil {
		return position{}
	}
	return position{sk: sk.Value, id: id.Value}
}

// EachRecord calls fn with every record of the community that passes f,
// newest first, reading the index page by page (one Query page in memory
// at a time): the CSV export streams from it. It stops at fn's first error
// and returns it.
func (r *Orders) EachRecord(ctx context.Context, communityID string, f RecordFilter, fn func(order.Order) error) error {
	q, err := r.recordsQuery(communityID, f)
	if err != nil {
		return err
	}
	var start map[string]types.AttributeValue
	for {
		in := *q.in
		in.ExclusiveStartKey = start
		in.Limit = aws.Int32(readBatch)
		res, err := r.DB.Query(ctx, &in)
		if err != nil {
			return fmt.Errorf("store: records: %w", err)
		}
		for _, item := range res.Items {
			o, err := DecodeOrder(item)
			if err != nil {
				return err
			}
			if !f.matchesKeyword(o) {
				continue
			}
			if err := fn(o); err != nil {
				return err
			}
		}
		if len(res.LastEvaluatedKey) == 0 {
			return nil
		}
		start = res.LastEvaluatedKey
	}
}
