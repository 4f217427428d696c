// Package announce is what the payment speaker says (收款播报, issue 13): the
// words of an amount as Chinese speakers say it ("一百二十八元五角"), the
// channel's opening ("微信收款"), and the same words as a sequence of tokens,
// each one of the short audio clips the pages play when the browser has no
// zh-CN voice (Clips: the clip set, generated at build time by
// infra/cmd/voice). Pure: no clock, no I/O.
//
// Reading rules (README, "Spoken payment announcements"):
//   - yuan are read in groups of four digits with 万 and 亿 (亿亿 beyond);
//     inside a group 千, 百, 十; zeros between read digits are one 零
//     (1,001 → 一千零一, 10,005 → 一万零五, 100,000,005 → 一亿零五), trailing
//     zeros are silent (1,000,000 → 一百万);
//   - 十 alone at the very start (10 → 十, 15 → 十五, 100,000 → 十万), 一十
//     after a higher digit (110 → 一百一十, 10,010 → 一万零一十): how people
//     say amounts;
//   - 二, never 两 (二百, 二千, 二万): the form cash-register speakers use,
//     unambiguous when heard, one clip fewer;
//   - 元 after the yuan, then 角 and 分; no 整; a missing 角 between 元 and 分
//     is 零 (100.05 → 一百元零五分); under one yuan there is no 元
//     (0.01 → 一分, 0.10 → 一角); nothing at all is 零元.
package announce

import (
	"strings"
)

// The channels' openings (Prefix).
const (
	PrefixWeChat = "微信收款"
	PrefixAlipay = "支付宝收款"
	PrefixFenfu  = "分付收款"
	PrefixOther  = "收款"
)

// Clip is one token of speech: its text and the file name of its clip
// (ASCII: <Key>.wav).
type Clip struct {
	Key  string
	Text string
}

// Clips is the whole clip set, in a fixed order: every token Tokens or
// Opening can return, and 点 and 两 (in the set for other number readings;
// these rules never say them).
var Clips = []Clip{
	{"n0", "零"}, {"n1", "一"}, {"n2", "二"}, {"n3", "三"}, {"n4", "四"},
	{"n5", "五"}, {"n6", "六"}, {"n7", "七"}, {"n8", "八"}, {"n9", "九"},
	{"shi", "十"}, {"bai", "百"}, {"qian", "千"}, {"wan", "万"}, {"yi", "亿"},
	{"yuan", "元"}, {"jiao", "角"}, {"fen", "分"}, {"dian", "点"}, {"liang", "两"},
	{"wechat", PrefixWeChat}, {"alipay", PrefixAlipay}, {"fenfu", PrefixFenfu}, {"shoukuan", PrefixOther},
}

// KeyOf is the clip key of a token ("" when it has no clip).
func KeyOf(token string) string {
	for _, c := range Clips {
		if c.Text == token {
			return c.Key
		}
	}
	return ""
}

var digits = []string{"零", "一", "二", "三", "四", "五", "六", "七", "八", "九"}

// Opening is the spoken opening of a payment by its channel ("wechat",
// "alipay") and method (the 分付 method "fenfu" within WeChat Pay).
func Opening(channel, method string) string {
	switch {
	case method == "fenfu":
		return PrefixFenfu
	case channel == "wechat":
		return PrefixWeChat
	case channel == "alipay":
		return PrefixAlipay
	}
	return PrefixOther
}

// ChannelName is the channel as the list shows it: 微信, 支付宝, 分付 (or 其他).
func ChannelName(channel, method string) string {
	switch o := Opening(channel, method); o {
	case PrefixOther:
		return "其他"
	default:
		return strings.TrimSuffix(o, "收款")
	}
}

// Tokens are the words of an amount in fen, one clip each. A negative
// amount is read as its absolute value (refunds are not announced).
func Tokens(fen int64) []string {
	u := uint64(fen)
	if fen < 0 {
		u = uint64(-(fen + 1)) + 1
	}
	yuan, jiao, f := u/100, (u/10)%10, u%10
	var out []string
	if yuan > 0 {
		out = append(readInt(yuan, true), "元")
	}
	switch {
	case jiao > 0:
		out = append(out, digits[jiao], "角")
		if f > 0 {
			out = append(out, digits[f], "分")
		}
	case f > 0:
		if yuan > 0 {
			out = append(out, "零")
		}
		out = append(out, digits[f], "分")
	case yuan == 0:
		out = []string{"零", "元"}
	}
	return out
}

// Words is an amount in fen as it is said: strings.Join(Tokens(fen), "").
func Words(fen int64) string { return strings.Join(Tokens(fen), "") }

// Spoken is the whole announcement: the opening and the amount's words
// ("微信收款一百二十八元五角").
func Spoken(channel, method string, fen int64) string {
	return Opening(channel, method) + Words(fen)
}

// Display is the announcement as the list shows it ("微信收款 128.50 元").
func Display(channel, method string, fen int64) string {
	neg := ""
	if fen < 0 {
		neg, fen = "-", -fen
	}
	y, c := fen/100, fen%100
	return Opening(channel, method) + " " + neg + itoa(uint64(y)) + "." + string(rune('0'+c/10)) + string(rune('0'+c%10)) + " 元"
}

func itoa(u uint64) string {
	if u == 0 {
		return "0"
	}
	var b []byte
	for ; u > 0; u /= 10 {
		b = append([]byte{byte('0' + u%10)}, b...)
	}
	return string(b)
}

// readInt reads n > 0. lead says the number starts the amount (a 1 before
// 十 is silent there).
func readInt(n uint64, lead bool) []string {
	const yi = 100000000
	if n >= yi {
		hi, lo := n/yi, n%yi
		out := append(readInt(hi, lead), "亿")
		if lo == 0 {
			return out
		}
		if lo < yi/10 { // a zero between: 一亿零五, 一亿零五百万
			out = append(out, "零")
		}
		return append(out, readInt(lo, false)...)
	}
	if n >= 10000 {
		hi, lo := n/10000, n%10000
		out := append(readGroup(hi, lead), "万")
		if lo == 0 {
			return out
		}
		if lo < 1000 {
			out = append(out, "零")
		}
		return append(out, readGroup(lo, false)...)
	}
	return readGroup(n, lead)
}

// readGroup reads 0 < n < 10000 with 千, 百, 十 and one 零 for a run of
// inner zeros; trailing zeros are silent.
func readGroup(n uint64, lead bool) []string {
	units := []string{"千", "百", "十", ""}
	ds := []uint64{n / 1000, n / 100 % 10, n / 10 % 10, n % 10}
	var out []string
	started, zero := false, false
	for i, d := range ds {
		if d == 0 {
			zero = started
			continue
		}
		if zero {
			out = append(out, "零")
			zero = false
		}
		if !(i == 2 && d == 1 && !started && lead) { // 十五, not 一十五, at the start
			out = append(out, digits[d])
		}
		if units[i] != "" {
			out = append(out, units[i])
		}
		started = true
	}
	return out
}
