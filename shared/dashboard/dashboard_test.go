package dashboard

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"html/template"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/estatepay/estatepay/shared/domain/calendar"
	"github.com/estatepay/estatepay/shared/store"
)

// 2026-11-29 00:30 in Shanghai: "today" is already the 29th there.
var now = time.Date(2026, 11, 28, 16, 30, 0, 0, time.UTC)

type fakeSource struct {
	stats     []store.DailyStat
	err       error
	company   string
	ids       []string
	from, to  calendar.Day
	callCount int
}

func (f *fakeSource) Daily(_ context.Context, company string, ids []string, from, to calendar.Day) ([]store.DailyStat, error) {
	f.callCount++
	f.company, f.ids, f.from, f.to = company, ids, from, to
	return f.stats, f.err
}

func stat(community string, day calendar.Day, ch string, count, fen int64) store.DailyStat {
	return store.DailyStat{CompanyID: "co1", CommunityID: community, Day: day, Channel: ch, Count: count, AmountFen: fen}
}

func TestBuildSumsPerCommunityDayAndChannel(t *testing.T) {
	refunded := stat("c1", "2026-11-20", "alipay", 1, 500)
	refunded.RefundedCount, refunded.RefundedFen = 2, 3000
	src := &fakeSource{stats: []store.DailyStat{
		stat("c1", "2026-11-29", "wechat", 2, 1000),
		stat("c1", "2026-11-29", "alipay", 1, 234),
		refunded,
		stat("c1", "2026-10-31", "alipay", 1, 7), // the first of the 30 days
		stat("c2", "2026-11-28", "wechat", 3, 600),
		stat("c2", "2026-11-29", "unionpay", 1, 100), // a channel the product may add
		stat("c1", "2026-10-30", "alipay", 9, 9999),  // before the window: ignored
		stat("zz", "2026-11-29", "alipay", 9, 9999),  // not one of the company's communities
	}}
	d, err := Build(context.Background(), src, "co1", []Community{{"c1", "阳光花园"}, {"c2", "翠湖小区"}, {"c3", "空小区"}}, now)
	if err != nil {
		t.Fatal(err)
	}
	if src.callCount != 1 || src.company != "co1" || strings.Join(src.ids, ",") != "c1,c2,c3" || src.from != "2026-10-31" || src.to != "2026-11-29" {
		t.Fatalf("Daily called %d× with %s %v %s..%s", src.callCount, src.company, src.ids, src.from, src.to)
	}
	if d.Today != "2026-11-29" || d.From != "2026-10-31" || d.To != "2026-11-29" || d.GeneratedAt != "2026-11-29T00:30:00+08:00" {
		t.Fatalf("period: today %s, %s..%s, at %s", d.Today, d.From, d.To, d.GeneratedAt)
	}
	if strings.Join(d.Channels, ",") != "wechat,alipay,unionpay" {
		t.Fatalf("channels %v", d.Channels)
	}
	c1, c2, c3 := d.Communities[0], d.Communities[1], d.Communities[2]
	if c1.ID != "c1" || c1.Name != "阳光花园" || len(c1.Days) != Days || c1.Days[0].Day != "2026-10-31" || c1.Days[Days-1].Day != "2026-11-29" {
		t.Fatalf("c1 days: %s..%s (%d)", c1.Days[0].Day, c1.Days[len(c1.Days)-1].Day, len(c1.Days))
	}
	check := func(what string, f Figures, count, fen int64, amount string) {
		t.Helper()
		if f.Count != count || f.AmountFen != fen || f.Amount != amount {
			t.Errorf("%s = %+v, want %d payments, %d fen (%s)", what, f, count, fen, amount)
		}
	}
	check("c1 today", c1.Today.All, 3, 1234, "12.34")
	check("c1 today wechat", c1.Today.ByChannel["wechat"], 2, 1000, "10.00")
	check("c1 today alipay", c1.Today.ByChannel["alipay"], 1, 234, "2.34")
	check("c1 30 days", c1.LastDays.All, 5, 1741, "17.41")
	check("c1 30 days alipay", c1.LastDays.ByChannel["alipay"], 3, 741, "7.41")
	if r := c1.LastDays.All; r.RefundedCount != 2 || r.RefundedFen != 3000 || r.Refunded != "30.00" {
		t.Errorf("c1 refunds = %+v", r)
	}
	check("c1 2026-11-20", c1.Days[20].All, 1, 500, "5.00")
	check("c1 first day", c1.Days[0].ByChannel["alipay"], 1, 7, "0.07")
	check("c2 today", c2.Today.All, 1, 100, "1.00")
	check("c2 today unionpay", c2.Today.ByChannel["unionpay"], 1, 100, "1.00")
	check("c2 yesterday", c2.Days[Days-2].ByChannel["wechat"], 3, 600, "6.00")
	check("c3 (nothing)", c3.LastDays.All, 0, 0, "0.00")
	check("c3 wechat (zero-filled)", c3.Today.ByChannel["wechat"], 0, 0, "0.00")
	check("company today", d.Total.Today.All, 4, 1334, "13.34")
	check("company 30 days", d.Total.LastDays.All, 9, 2441, "24.41")
	check("company 30 days wechat", d.Total.LastDays.ByChannel["wechat"], 5, 1600, "16.00")

	// The JSON the API answers.
	raw, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Today       string `json:"today"`
		Communities []struct {
			ID    string `json:"id"`
			Today struct {
				ByChannel map[string]struct {
					AmountFen int64  `json:"amount_fen"`
					Amount    string `json:"amount"`
				} `json:"by_channel"`
			} `json:"today"`
			Days []struct {
				Day string `json:"day"`
			} `json:"days"`
		} `json:"communities"`
		Total struct {
			LastDays struct {
				All struct {
					Count int64 `json:"count"`
				} `json:"all"`
			} `json:"last_30_days"`
		} `json:"total"`
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	if v.Today != "2026-11-29" || len(v.Communities) != 3 || v.Communities[0].Today.ByChannel["wechat"].Amount != "10.00" ||
		v.Communities[0].Today.ByChannel["wechat"].AmountFen != 1000 || len(v.Communities[0].Days) != Days || v.Total.LastDays.All.Count != 9 {
		t.Fatalf("JSON: %s", raw)
	}
}

func TestBuildPassesErrorsOn(t *testing.T) {
	boom := errors.New("dynamodb down")
	if _, err := Build(context.Background(), &fakeSource{err: boom}, "co1", []Community{{"c1", "x"}}, now); !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
}

func TestAxis(t *testing.T) {
	for _, c := range []struct{ peak, top, step int64 }{
		{0, 100, 100},     // nothing collected: 0..1 yuan
		{1, 100, 100},     // 0.01 yuan
		{350, 400, 100},   // 3.50 yuan: steps of 1 yuan
		{1234, 1500, 500}, // 12.34 yuan: steps of 5 yuan
		{1999999, 2000000, 500000},
		{100000000, 100000000, 50000000},
	} {
		top, step := axis(c.peak)
		if top != c.top || step != c.step || top < c.peak || top/step > 4 {
			t.Errorf("axis(%d) = %d, %d; want %d, %d", c.peak, top, step, c.top, c.step)
		}
	}
}

// wellFormed parses s as XML (strictly) and returns its character data.
func wellFormed(t *testing.T, s string) string {
	t.Helper()
	dec := xml.NewDecoder(strings.NewReader(s))
	dec.Strict = true
	var text strings.Builder
	depth := 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v\n%s", err, s)
		}
		switch x := tok.(type) {
		case xml.StartElement:
			depth++
			seen := map[xml.Name]bool{}
			for _, a := range x.Attr {
				if seen[a.Name] {
					t.Fatalf("element %s repeats attribute %s (not well-formed)", x.Name.Local, a.Name.Local)
				}
				seen[a.Name] = true
			}
		case xml.EndElement:
			depth--
		case xml.CharData:
			text.Write(x)
		}
	}
	if depth != 0 {
		t.Fatalf("unbalanced elements (%d)", depth)
	}
	return text.String()
}

const nasty = `<script>alert("x")</script> & 'Q' 花园` + "\x01"

func nastyData(t *testing.T) Data {
	t.Helper()
	src := &fakeSource{stats: []store.DailyStat{
		stat("c1", "2026-11-29", "wechat", 2, 1000),
		stat("c1", "2026-11-29", "alipay", 1, 234),
		stat("c1", "2026-11-10", "alipay", 4, 88800),
		stat("c2", "2026-11-29", "alipay", -1, -500), // a refund counted before its payment
	}}
	d, err := Build(context.Background(), src, "co1", []Community{{"c1", nasty}, {"c2", "翠湖小区"}}, now)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestChartsAreWellFormedSVGWithEscapedLabels(t *testing.T) {
	d := nastyData(t)
	for name, svg := range map[string]template.HTML{
		"daily": DailyChart(nasty+" 近30天收款", d.Communities[0].Series, d.Channels),
		"today": TodayChart("今日收款", d),
		"empty": TodayChart("今日收款", Data{Channels: KnownChannels}),
	} {
		s := string(svg)
		text := wellFormed(t, s)
		if !strings.HasPrefix(s, `<svg xmlns="http://www.w3.org/2000/svg"`) || !strings.HasSuffix(s, "</svg>") {
			t.Errorf("%s: not one svg element: %.80s", name, s)
		}
		if strings.Contains(s, "<script") || strings.Contains(s, "\x01") || strings.Contains(s, "style=") {
			t.Errorf("%s: unescaped markup, a forbidden character or a style attribute:\n%s", name, s)
		}
		if name != "empty" && !strings.Contains(text, `<script>alert("x")</script> & 'Q' 花园`) {
			t.Errorf("%s: the name does not read back as text: %q", name, text)
		}
		for _, label := range []string{"微信支付", "支付宝"} {
			if !strings.Contains(text, label) {
				t.Errorf("%s: legend lacks %s", name, label)
			}
		}
	}
	daily := string(DailyChart("x", d.Communities[0].Series, d.Channels))
	// One bar segment per channel and day with money: today's two and the 10th's one.
	if n := strings.Count(daily, "<rect x=") - len(d.Channels); n != 3 {
		t.Errorf("daily chart has %d bar segments, want 3", n)
	}
	for _, tip := range []string{"2026-11-29 微信支付：¥10.00（2 笔）", "2026-11-29 支付宝：¥2.34（1 笔）", "2026-11-10 支付宝：¥888.00（4 笔）"} {
		if !strings.Contains(daily, tip) {
			t.Errorf("daily chart lacks the tooltip %q", tip)
		}
	}
	// Axis in whole yuan over the largest day (888 yuan): 0, 500, 1000.
	if !strings.Contains(daily, ">1000</text>") || !strings.Contains(daily, ">元</text>") {
		t.Errorf("daily chart axis labels missing")
	}
	// Dates every 5 days ending today.
	for _, label := range []string{">11-29<", ">11-24<", ">11-04<"} {
		if !strings.Contains(daily, label) {
			t.Errorf("daily chart lacks the date %s", label)
		}
	}
	today := string(TodayChart("今日收款", d))
	if !strings.Contains(today, "¥12.34 · 3 笔") || !strings.Contains(today, "¥-5.00 · -1 笔") {
		t.Errorf("today chart values:\n%s", today)
	}
	if !strings.Contains(today, "…") { // the long name is shortened on the axis, whole in its tooltip
		t.Errorf("long community name not shortened")
	}
}

func TestPageFragment(t *testing.T) {
	p := NewPage(nastyData(t))
	if len(p.CommunityCharts) != 2 || p.CommunityCharts[0].ID != "c1" {
		t.Fatalf("community charts: %+v", p.CommunityCharts)
	}
	if got := strings.Join(p.TodayTable.Headers, "|"); got != "小区|微信支付|支付宝|合计|已退款" {
		t.Fatalf("headers %s", got)
	}
	if r := p.TodayTable.Rows[0]; strings.Join(r.Cells, "|") != "¥10.00（2 笔）|¥2.34（1 笔）|¥12.34（3 笔）|¥0.00（0 笔）" {
		t.Fatalf("today row %+v", r)
	}
	if r := p.LastDaysTable.Total; r.Name != "全部小区" || r.Cells[2] != "¥895.34（6 笔）" || r.Cells[3] != "¥0.00（0 笔）" {
		t.Fatalf("30-day total row %+v", r)
	}
	html, err := p.Fragment()
	if err != nil {
		t.Fatal(err)
	}
	s := string(html)
	text := wellFormed(t, s)
	if strings.Contains(s, "<script") {
		t.Fatalf("unescaped name in the page:\n%s", s)
	}
	for _, want := range []string{"今日收款", "近30天收款（2026-10-31 至 2026-11-29）", "统计至 2026-11-29 00:30:00（北京时间）", "翠湖小区", `<script>alert("x")</script>`} {
		if !strings.Contains(text, want) {
			t.Errorf("page text lacks %q", want)
		}
	}
	if n := strings.Count(s, "<svg "); n != 4 { // today, the company, two communities
		t.Errorf("%d charts in the page, want 4", n)
	}
}
