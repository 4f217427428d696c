// Package dashboard turns the aggregates StatsFunction keeps (store.Stats:
// one item per community × business day × channel) into the console's
// dashboard: today's and the last 30 days' collections per community and
// channel, for the JSON API and as server-rendered inline SVG charts (no
// JavaScript). It reads only the aggregates, never the orders.
package dashboard

import (
	"context"
	"slices"
	"sort"
	"time"

	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/calendar"
	"github.com/estatepay/estatepay/shared/store"
)

// Days is how many business days the history covers, today included.
const Days = 30

// Source reads the aggregates (store.Stats).
type Source interface {
	Daily(ctx context.Context, companyID string, communityIDs []string, from, to calendar.Day) ([]store.DailyStat, error)
}

// Community is one community of the company, as the directory names it.
type Community struct {
	ID   string
	Name string
}

// Figures are the collections of one period (a day or 30 days) through one
// channel or all. Amounts are fen; Amount and Refunded are the same in yuan
// ("12.34") for people.
type Figures struct {
	Count         int64  `json:"count"`      // payments still held
	AmountFen     int64  `json:"amount_fen"` // their amount
	Amount        string `json:"amount"`
	RefundedCount int64  `json:"refunded_count"` // payments of the period refunded since
	RefundedFen   int64  `json:"refunded_fen"`
	Refunded      string `json:"refunded"`
}

func (f *Figures) add(d store.DailyStat) {
	f.Count += d.Count
	f.AmountFen += d.AmountFen
	f.RefundedCount += d.RefundedCount
	f.RefundedFen += d.RefundedFen
	f.Amount, f.Refunded = domain.FormatYuan(domain.Fen(f.AmountFen)), domain.FormatYuan(domain.Fen(f.RefundedFen))
}

// Totals are one period's figures, all channels and per channel (every
// channel of Data.Channels is present, zero if nothing was collected).
type Totals struct {
	All       Figures            `json:"all"`
	ByChannel map[string]Figures `json:"by_channel"`
}

func newTotals(channels []string) Totals {
	t := Totals{All: zero(), ByChannel: make(map[string]Figures, len(channels))}
	for _, ch := range channels {
		t.ByChannel[ch] = zero()
	}
	return t
}

func zero() Figures { return Figures{Amount: "0.00", Refunded: "0.00"} }

func (t *Totals) add(d store.DailyStat) {
	t.All.add(d)
	f := t.ByChannel[d.Channel]
	f.add(d)
	t.ByChannel[d.Channel] = f
}

// DayTotals are one business day's totals.
type DayTotals struct {
	Day calendar.Day `json:"day"`
	Totals
}

// Series are the figures of a community (or the whole company): today, the
// last 30 days together, and each of those days, oldest first.
type Series struct {
	Today      Totals      `json:"today"`
	LastDays   Totals      `json:"last_30_days"`
	Days       []DayTotals `json:"days"`
	dayIndex   map[calendar.Day]int
	todayIndex int
}

func newSeries(days []calendar.Day, channels []string) Series {
	s := Series{Today: newTotals(channels), LastDays: newTotals(channels), dayIndex: make(map[calendar.Day]int, len(days))}
	for i, d := range days {
		s.Days = append(s.Days, DayTotals{Day: d, Totals: newTotals(channels)})
		s.dayIndex[d] = i
	}
	s.todayIndex = len(days) - 1
	return s
}

func (s *Series) add(d store.DailyStat) {
	i, ok := s.dayIndex[d.Day]
	if !ok {
		return
	}
	s.Days[i].add(d)
	s.LastDays.add(d)
	if i == s.todayIndex {
		s.Today.add(d)
	}
}

// CommunityStats are one community's figures.
type CommunityStats struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Series
}

// Data is the dashboard of one company at one moment: GET
// /admin/api/dashboard answers it as JSON.
type Data struct {
	CompanyID   string           `json:"company_id"`
	Today       calendar.Day     `json:"today"` // Asia/Shanghai business day
	From        calendar.Day     `json:"from"`  // first day of the 30
	To          calendar.Day     `json:"to"`    // = today
	GeneratedAt string           `json:"generated_at"`
	Channels    []string         `json:"channels"` // wechat, alipay (then any other, sorted)
	Total       Series           `json:"total"`    // the whole company
	Communities []CommunityStats `json:"communities"`
}

// KnownChannels are the channels every dashboard shows, in this order.
var KnownChannels = []string{string(domain.WeChat), string(domain.Alipay)}

// Build reads the aggregates of the company's communities for the 30
// business days ending today (Asia/Shanghai, from now) and sums them per
// community, day and channel. Communities keep the order given.
func Build(ctx context.Context, src Source, companyID string, communities []Community, now time.Time) (Data, error) {
	today := calendar.BusinessDay(now)
	days := make([]calendar.Day, Days)
	d := today
	for i := Days - 1; i >= 0; i-- {
		days[i] = d
		d = d.Prev()
	}
	ids := make([]string, len(communities))
	for i, c := range communities {
		ids[i] = c.ID
	}
	stats, err := src.Daily(ctx, companyID, ids, days[0], today)
	if err != nil {
		return Data{}, err
	}
	channels := slices.Clone(KnownChannels)
	var extra []string
	for _, s := range stats {
		if !slices.Contains(channels, s.Channel) && !slices.Contains(extra, s.Channel) {
			extra = append(extra, s.Channel)
		}
	}
	sort.Strings(extra)
	channels = append(channels, extra...)

	out := Data{
		CompanyID: companyID, Today: today, From: days[0], To: today, GeneratedAt: calendar.Format(now),
		Channels: channels, Total: newSeries(days, channels), Communities: make([]CommunityStats, len(communities)),
	}
	byID := make(map[string]int, len(communities))
	for i, c := range communities {
		out.Communities[i] = CommunityStats{ID: c.ID, Name: c.Name, Series: newSeries(days, channels)}
		byID[c.ID] = i
	}
	for _, s := range stats {
		i, ok := byID[s.CommunityID]
		if !ok {
			continue
		}
		out.Communities[i].add(s)
		out.Total.add(s)
	}
	return out, nil
}

// ChannelLabel is a channel's name for people.
func ChannelLabel(ch string) string {
	switch ch {
	case string(domain.WeChat):
		return "微信支付"
	case string(domain.Alipay):
		return "支付宝"
	}
	return ch
}

// channelColor is a channel's colour in the charts (the apps' own greens and
// blues; others grey).
func channelColor(ch string) string {
	switch ch {
	case string(domain.WeChat):
		return "#07c160"
	case string(domain.Alipay):
		return "#1677ff"
	}
	return "#8c8c8c"
}
