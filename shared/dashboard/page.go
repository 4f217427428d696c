package dashboard

import (
	"bytes"
	"fmt"
	"html/template"
	"time"

	"github.com/estatepay/estatepay/shared/domain/calendar"
)

// Page is the dashboard page's data: the figures, the charts, and the
// tables, ready for the console's layout (GET /admin/dashboard). Fragment
// renders all of it as one <section>.
type Page struct {
	Data
	AsOf            string           // GeneratedAt for people: 2026-11-29 10:00:05 (Asia/Shanghai)
	TodayChart      template.HTML    // today's amount per community and channel
	TotalChart      template.HTML    // the company's last 30 days per channel
	CommunityCharts []CommunityChart // each community's last 30 days per channel
	TodayTable      Table            // today per community × channel
	LastDaysTable   Table            // the last 30 days per community × channel
}

// CommunityChart is one community's 30-day chart.
type CommunityChart struct {
	ID, Name string
	Chart    template.HTML
}

// Table is a figures table: a header row, one row per community, a total row.
type Table struct {
	Headers []string
	Rows    []Row
	Total   Row
}

// Row is one table row: a name and a cell per header after the first.
type Row struct {
	Name  string
	Cells []string
}

// NewPage lays d out for people (zh-CN, amounts in yuan).
func NewPage(d Data) Page {
	p := Page{
		Data:       d,
		AsOf:       d.GeneratedAt,
		TodayChart: TodayChart(fmt.Sprintf("今日收款（%s）", d.Today), d),
		TotalChart: DailyChart(fmt.Sprintf("全部小区 近%d天收款（%s 至 %s）", Days, d.From, d.To), d.Total, d.Channels),
	}
	if t, err := time.Parse(time.RFC3339, d.GeneratedAt); err == nil {
		p.AsOf = calendar.FormatReadable(t)
	}
	for _, c := range d.Communities {
		p.CommunityCharts = append(p.CommunityCharts, CommunityChart{ID: c.ID, Name: clean(c.Name),
			Chart: DailyChart(fmt.Sprintf("%s 近%d天收款", c.Name, Days), c.Series, d.Channels)})
	}
	p.TodayTable = table(d, func(s Series) Totals { return s.Today })
	p.LastDaysTable = table(d, func(s Series) Totals { return s.LastDays })
	return p
}

func table(d Data, period func(Series) Totals) Table {
	t := Table{Headers: []string{"小区"}}
	for _, ch := range d.Channels {
		t.Headers = append(t.Headers, ChannelLabel(ch))
	}
	t.Headers = append(t.Headers, "合计", "已退款")
	row := func(name string, s Series) Row {
		tot := period(s)
		r := Row{Name: name}
		for _, ch := range d.Channels {
			r.Cells = append(r.Cells, cell(tot.ByChannel[ch].AmountFen, tot.ByChannel[ch].Count))
		}
		return Row{Name: name, Cells: append(r.Cells, cell(tot.All.AmountFen, tot.All.Count), cell(tot.All.RefundedFen, tot.All.RefundedCount))}
	}
	for _, c := range d.Communities {
		t.Rows = append(t.Rows, row(clean(c.Name), c.Series))
	}
	t.Total = row("全部小区", d.Total)
	return t
}

func cell(fen, count int64) string { return fmt.Sprintf("%s（%d 笔）", yuan(fen), count) }

var fragment = template.Must(template.New("dashboard").Parse(`<section class="dashboard">
<p class="dashboard-note">统计至 {{.AsOf}}（北京时间）。金额为实收（已扣除之后退款的款项），按付款日计入；数据由支付事件累计，通常几秒内更新。</p>
<h2>今日收款</h2>
{{template "table" .TodayTable}}
{{.TodayChart}}
<h2>近{{.Days}}天收款（{{.From}} 至 {{.To}}）</h2>
{{template "table" .LastDaysTable}}
{{.TotalChart}}
{{range .CommunityCharts}}<h3>{{.Name}}</h3>
{{.Chart}}
{{end}}</section>
{{define "table"}}<table class="dashboard-table">
<thead><tr>{{range .Headers}}<th>{{.}}</th>{{end}}</tr></thead>
<tbody>
{{range .Rows}}<tr><th>{{.Name}}</th>{{range .Cells}}<td>{{.}}</td>{{end}}</tr>
{{end}}</tbody>
<tfoot><tr><th>{{.Total.Name}}</th>{{range .Total.Cells}}<td>{{.}}</td>{{end}}</tr></tfoot>
</table>{{end}}`))

// Days is the history's length, for templates.
func (Page) Days() int { return Days }

// Fragment renders the whole dashboard (tables and charts) as one
// <section>, for the console's page layout.
func (p Page) Fragment() (template.HTML, error) {
	var b bytes.Buffer
	if err := fragment.Execute(&b, p); err != nil {
		return "", err
	}
	return template.HTML(b.String()), nil // #nosec: produced by html/template
}
