package announce

import (
	"slices"
	"strings"
	"testing"
)

func TestWords(t *testing.T) {
	for _, c := range []struct {
		fen  int64
		want string
	}{
		{0, "零元"},
		{1, "一分"},
		{10, "一角"},
		{15, "一角五分"},
		{101, "一元零一分"},
		{110, "一元一角"},
		{1000, "十元"},
		{1050, "十元五角"},
		{1500, "十五元"},
		{2000, "二十元"},
		{10005, "一百元零五分"},
		{11000, "一百一十元"},
		{12850, "一百二十八元五角"},
		{20000, "二百元"},
		{100100, "一千零一元"},
		{101000, "一千零一十元"},
		{1000520, "一万零五元二角"},
		{1001000, "一万零一十元"},
		{1010000, "一万零一百元"},
		{1100000, "一万一千元"},
		{10000001, "十万元零一分"},
		{100000000, "一百万元"},
		{120034500, "一百二十万零三百四十五元"},
		{1000000000, "一千万元"},
		{10000000000, "一亿元"},
		{10000000500, "一亿零五元"},
		{10500000000, "一亿零五百万元"},
		{11000000000, "一亿一千万元"},
		{100000000000000, "一万亿元"},
		{-1050, "十元五角"},
	} {
		if got := Words(c.fen); got != c.want {
			t.Errorf("Words(%d) = %s, want %s", c.fen, got, c.want)
		}
	}
}

func TestSpokenAndDisplay(t *testing.T) {
	for _, c := range []struct {
		channel, method string
		fen             int64
		spoken, display string
		name            string
	}{
		{"wechat", "", 12850, "微信收款一百二十八元五角", "微信收款 128.50 元", "微信"},
		{"alipay", "", 1, "支付宝收款一分", "支付宝收款 0.01 元", "支付宝"},
		{"wechat", "fenfu", 1000520, "分付收款一万零五元二角", "分付收款 10005.20 元", "分付"},
		{"cash", "", 1000, "收款十元", "收款 10.00 元", "其他"},
	} {
		if got := Spoken(c.channel, c.method, c.fen); got != c.spoken {
			t.Errorf("Spoken = %s, want %s", got, c.spoken)
		}
		if got := Display(c.channel, c.method, c.fen); got != c.display {
			t.Errorf("Display = %s, want %s", got, c.display)
		}
		if got := ChannelName(c.channel, c.method); got != c.name {
			t.Errorf("ChannelName = %s, want %s", got, c.name)
		}
	}
}

// Every token the rules can say has a clip, so the clip fallback can say
// every amount; keys are unique file names.
func TestEveryTokenHasAClip(t *testing.T) {
	keys := map[string]bool{}
	for _, c := range Clips {
		if keys[c.Key] || strings.Trim(c.Key, "abcdefghijklmnopqrstuvwxyz0123456789") != "" {
			t.Errorf("clip key %q duplicated or not [a-z0-9]", c.Key)
		}
		keys[c.Key] = true
	}
	for fen := int64(0); fen < 2000000; fen += 7 {
		for _, tok := range Tokens(fen) {
			if KeyOf(tok) == "" {
				t.Fatalf("token %q of %d has no clip", tok, fen)
			}
		}
	}
	for _, o := range []string{PrefixWeChat, PrefixAlipay, PrefixFenfu, PrefixOther} {
		if KeyOf(o) == "" {
			t.Errorf("opening %s has no clip", o)
		}
	}
	if slices.Contains(Tokens(20000000), "两") {
		t.Error("两 said")
	}
}
