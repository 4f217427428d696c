package dashboard

import (
	"fmt"
	"html"
	"html/template"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/estatepay/estatepay/shared/domain"
)

// The charts are inline SVG built on the server: no JavaScript, no style
// attributes (presentation attributes only, so a strict style-src CSP holds),
// every text escaped (names come from people). A bar's <title> is its
// tooltip.

const (
	chartWidth = 760
	fontAttrs  = `font-family="sans-serif" font-size="12" fill="#333"`
	titleAttrs = `font-family="sans-serif" font-size="14" font-weight="bold" fill="#333"`
)

// esc makes s safe as SVG (XML) text or attribute value: characters XML
// forbids are dropped, markup characters escaped.
func esc(s string) string { return html.EscapeString(clean(s)) }

// clean drops the characters XML (and HTML) text must not contain: control
// characters other than tab and line breaks, surrogates, U+FFFE/U+FFFF.
func clean(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' || (r >= 0x20 && r <= 0xD7FF) || (r >= 0xE000 && r <= 0xFFFD) || (r >= 0x10000 && r <= 0x10FFFF) {
			return r
		}
		return -1
	}, s)
}

// shorten cuts s to n characters, with an ellipsis when cut.
func shorten(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// yuan formats fen as yuan for people: ¥1234.56.
func yuan(fen int64) string { return "¥" + domain.FormatYuan(domain.Fen(fen)) }

// axis returns the top of a value axis in fen for a largest value peak and
// its tick step: whole yuan, 1-2-5 steps, about 4 ticks.
func axis(peak int64) (top, step int64) {
	for mag := int64(100); ; mag *= 10 {
		for _, m := range []int64{1, 2, 5} {
			step = m * mag
			if step*4 >= peak {
				top = step * ((peak + step - 1) / step)
				if top == 0 {
					top = step
				}
				return top, step
			}
		}
	}
}

// axisLabel writes a tick value (a whole number of yuan).
func axisLabel(fen int64) string { return strconv.FormatInt(fen/100, 10) }

func svgOpen(b *strings.Builder, height int, label string) {
	fmt.Fprintf(b, `<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-label="%s">`,
		chartWidth, height, chartWidth, height, esc(label))
	fmt.Fprintf(b, `<title>%s</title>`, esc(label))
}

func legend(b *strings.Builder, channels []string) {
	x := chartWidth - 16
	for i := len(channels) - 1; i >= 0; i-- {
		label := ChannelLabel(channels[i])
		x -= 14*utf8.RuneCountInString(label) + 22
		fmt.Fprintf(b, `<rect x="%d" y="12" width="12" height="12" fill="%s"/>`, x, channelColor(channels[i]))
		fmt.Fprintf(b, `<text x="%d" y="22" %s>%s</text>`, x+16, fontAttrs, esc(label))
	}
}

// DailyChart is a stacked bar chart of s's days (amount held per day, one
// colour per channel), titled title.
func DailyChart(title string, s Series, channels []string) template.HTML {
	const height, left, right, top, bottom = 280, 64, 16, 44, 36
	plotW, plotH := float64(chartWidth-left-right), float64(height-top-bottom)
	var peak int64
	for _, d := range s.Days {
		var sum int64
		for _, ch := range channels {
			sum += positive(d.ByChannel[ch].AmountFen)
		}
		peak = max(peak, sum)
	}
	axisTop, step := axis(peak)
	var b strings.Builder
	svgOpen(&b, height, title)
	fmt.Fprintf(&b, `<text x="%d" y="22" %s>%s</text>`, left, titleAttrs, esc(title))
	legend(&b, channels)
	// Value axis: grid lines and labels in yuan.
	for v := int64(0); v <= axisTop; v += step {
		y := float64(top) + plotH - plotH*float64(v)/float64(axisTop)
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#e5e5e5"/>`, left, y, chartWidth-right, y)
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" %s text-anchor="end">%s</text>`, left-6, y+4, fontAttrs, axisLabel(v))
	}
	fmt.Fprintf(&b, `<text x="8" y="%d" %s>元</text>`, top-8, fontAttrs)
	n := len(s.Days)
	slot := plotW / float64(max1(n))
	barW := slot * 0.7
	for i, d := range s.Days {
		x := float64(left) + slot*float64(i) + (slot-barW)/2
		y := float64(top) + plotH
		for _, ch := range channels {
			f := d.ByChannel[ch]
			h := plotH * float64(positive(f.AmountFen)) / float64(axisTop)
			if f.AmountFen <= 0 {
				continue
			}
			y -= h
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s</title></rect>`,
				x, y, barW, h, channelColor(ch), esc(fmt.Sprintf("%s %s：%s（%d 笔）%s", d.Day, ChannelLabel(ch), yuan(f.AmountFen), f.Count, refundNote(f))))
		}
		if (n-1-i)%5 == 0 { // a date every 5 days, ending today
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" %s text-anchor="middle">%s</text>`, x+barW/2, height-bottom+18, fontAttrs, esc(string(d.Day)[5:]))
		}
	}
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#999"/>`, left, top+int(plotH), chartWidth-right, top+int(plotH))
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // #nosec: every text above went through esc
}

// TodayChart is a horizontal stacked bar per community of today's amounts
// per channel, with the amount and count written after each bar.
func TodayChart(title string, d Data) template.HTML {
	const rowH, top, bottom, labelW, valueW = 30, 44, 12, 150, 170
	rows := max1(len(d.Communities))
	height := top + rows*rowH + bottom
	barArea := float64(chartWidth - labelW - valueW - 16)
	var peak int64
	for _, c := range d.Communities {
		peak = max(peak, positive(c.Today.All.AmountFen))
	}
	var b strings.Builder
	svgOpen(&b, height, title)
	fmt.Fprintf(&b, `<text x="16" y="22" %s>%s</text>`, titleAttrs, esc(title))
	legend(&b, d.Channels)
	if len(d.Communities) == 0 {
		fmt.Fprintf(&b, `<text x="16" y="%d" %s>暂无小区</text>`, top+20, fontAttrs)
	}
	for i, c := range d.Communities {
		y := top + i*rowH
		fmt.Fprintf(&b, `<text x="%d" y="%d" %s text-anchor="end"><title>%s</title>%s</text>`, labelW-8, y+19, fontAttrs, esc(c.Name), esc(shorten(c.Name, 10)))
		x := float64(labelW)
		for _, ch := range d.Channels {
			f := c.Today.ByChannel[ch]
			if f.AmountFen <= 0 {
				continue
			}
			w := barArea * float64(f.AmountFen) / float64(peak)
			fmt.Fprintf(&b, `<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s"><title>%s</title></rect>`,
				x, y+5, w, rowH-10, channelColor(ch), esc(fmt.Sprintf("%s %s：%s（%d 笔）", c.Name, ChannelLabel(ch), yuan(f.AmountFen), f.Count)))
			x += w
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" %s>%s</text>`, x+8, y+19, fontAttrs,
			esc(fmt.Sprintf("%s · %d 笔", yuan(c.Today.All.AmountFen), c.Today.All.Count)))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // #nosec: every text above went through esc
}

func refundNote(f Figures) string {
	if f.RefundedCount == 0 {
		return ""
	}
	return fmt.Sprintf("，已退款 %s（%d 笔）", yuan(f.RefundedFen), f.RefundedCount)
}

// positive is v, or 0 for a negative value (a refund counted before its
// payment: transient, drawn as nothing).
func positive(v int64) int64 { return max(v, 0) }

func max1(n int) int { return max(n, 1) }
