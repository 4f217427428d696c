package domain

import (
	"fmt"
	"testing"
)

var allStatuses = []InterfaceStatus{StatusUnconfigured, StatusApplying, StatusAuthPending, StatusApproved, StatusRejected, StatusDisabled}

// TestChannelAvailabilityMatrix walks C2 over every Alipay status × WeChat
// status × association.
func TestChannelAvailabilityMatrix(t *testing.T) {
	alipayUsable := map[InterfaceStatus]bool{StatusAuthPending: true, StatusApproved: true}
	n := 0
	for _, ali := range allStatuses {
		for _, wx := range allStatuses {
			for _, assoc := range []bool{false, true} {
				n++
				in := ChannelInputs{AlipayStatus: ali, WeChatStatus: wx, WeChatAssociated: assoc}
				got := ChannelAvailability(in)
				want := Availability{
					Alipay: alipayUsable[ali],
					WeChat: assoc && wx == StatusApproved,
				}
				if got != want {
					t.Errorf("ChannelAvailability(alipay=%q wechat=%q associated=%v) = %+v, want %+v", ali, wx, assoc, got, want)
				}
				if got.Any() != (want.Alipay || want.WeChat) {
					t.Errorf("%+v.Any() = %v", got, got.Any())
				}
				if got.Allows(Alipay) != want.Alipay || got.Allows(WeChat) != want.WeChat {
					t.Errorf("%+v.Allows disagrees with the fields", got)
				}
			}
		}
	}
	if n != 72 {
		t.Fatalf("matrix has %d cells, want 72", n)
	}
	// WeChat's auth_pending is an Alipay-only status: it never enables WeChat.
	if ChannelAvailability(ChannelInputs{WeChatStatus: StatusAuthPending, WeChatAssociated: true}).WeChat {
		t.Error("WeChat usable with auth_pending status")
	}
	// Unknown status strings enable nothing.
	if av := ChannelAvailability(ChannelInputs{AlipayStatus: "APPROVED", WeChatStatus: "Approved", WeChatAssociated: true}); av.Any() {
		t.Errorf("unknown status spellings enabled %+v", av)
	}
}

func TestAvailabilityAllowsUnknownChannel(t *testing.T) {
	av := Availability{WeChat: true, Alipay: true}
	for _, ch := range []Channel{"", "unionpay", "WECHAT", "Alipay"} {
		if av.Allows(ch) {
			t.Errorf("Allows(%q) = true", ch)
		}
	}
}

const (
	uaWeChat  = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.44(0x18002c2f) NetType/WIFI Language/zh_CN"
	uaAlipay  = "Mozilla/5.0 (Linux; U; Android 13; zh-CN; V2227A) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/69.0.3497.100 UWS/3.22.2.59 Mobile Safari/537.36 UCBS/3.22.2.59_230817185144 ChannelId(0) NebulaSDK/1.8.100112 Nebula AlipayDefined(nt:WIFI,ws:360|0|3.0) AliApp(AP/10.5.36.8100) AlipayClient/10.5.36.8100 Language/zh-Hans useStatusBar/true isConcaveScreen/true Region/CNAriver/1.0.0"
	uaDesktop = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
)

func TestDetectApp(t *testing.T) {
	cases := []struct {
		ua   string
		want Channel
	}{
		{uaWeChat, WeChat},
		{uaAlipay, Alipay},
		{uaDesktop, ""},
		{"", ""},
		{"MicroMessenger", WeChat},
		{"AlipayClient", Alipay},
		{"micromessenger/8.0", ""}, // the rule is case-sensitive, as the apps send it
		{"alipayclient/10", ""},
		{"Mozilla/5.0 Alipay", ""},
		{"WeChat", ""},
		// WeChat's marker wins when both appear.
		{"AlipayClient/10 MicroMessenger/8", WeChat},
	}
	for _, c := range cases {
		if got := DetectApp(c.ua); got != c.want {
			t.Errorf("DetectApp(%q) = %q, want %q", c.ua, got, c.want)
		}
	}
}

// TestDecideLanding is C3 for every UA kind × availability.
func TestDecideLanding(t *testing.T) {
	avs := map[string]Availability{
		"both":   {WeChat: true, Alipay: true},
		"wechat": {WeChat: true},
		"alipay": {Alipay: true},
		"none":   {},
	}
	type want struct {
		form bool
		app  Channel
		msg  string
	}
	cases := []struct {
		ua, av string
		want   want
	}{
		{uaWeChat, "both", want{true, WeChat, ""}},
		{uaWeChat, "wechat", want{true, WeChat, ""}},
		{uaWeChat, "alipay", want{false, "", MsgNotOpen}},
		{uaWeChat, "none", want{false, "", MsgNotOpen}},
		{uaAlipay, "both", want{true, Alipay, ""}},
		{uaAlipay, "wechat", want{false, "", MsgNotOpen}},
		{uaAlipay, "alipay", want{true, Alipay, ""}},
		{uaAlipay, "none", want{false, "", MsgNotOpen}},
		{uaDesktop, "both", want{false, "", MsgScanWithBoth}},
		{uaDesktop, "wechat", want{false, "", MsgScanWeChat}},
		{uaDesktop, "alipay", want{false, "", MsgScanAlipay}},
		{uaDesktop, "none", want{false, "", MsgNotOpen}},
		{"", "both", want{false, "", MsgScanWithBoth}},
		{"", "none", want{false, "", MsgNotOpen}},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%s/%s", DetectApp(c.ua)+"", c.av), func(t *testing.T) {
			got := DecideLanding(c.ua, avs[c.av])
			if got.ShowForm != c.want.form || got.App != c.want.app || got.Message != c.want.msg {
				t.Errorf("DecideLanding(%q, %s) = %+v, want %+v", c.ua, c.av, got, c.want)
			}
		})
	}
	// The exact strings the spec (C3) prescribes.
	if MsgNotOpen != "小区暂未开通此功能" {
		t.Errorf("MsgNotOpen = %q", MsgNotOpen)
	}
	if MsgScanWithBoth != "请使用微信或支付宝扫码" {
		t.Errorf("MsgScanWithBoth = %q", MsgScanWithBoth)
	}
	if MsgScanWeChat != "请使用微信扫码" || MsgScanAlipay != "请使用支付宝扫码" {
		t.Errorf("single-app messages = %q, %q", MsgScanWeChat, MsgScanAlipay)
	}
}

// TestDecideLandingFromInputs chains C2 into C3 over the full input matrix: a
// form appears exactly when the scanning app's channel is usable.
func TestDecideLandingFromInputs(t *testing.T) {
	for _, ali := range allStatuses {
		for _, wx := range allStatuses {
			for _, assoc := range []bool{false, true} {
				av := ChannelAvailability(ChannelInputs{AlipayStatus: ali, WeChatStatus: wx, WeChatAssociated: assoc})
				for _, ua := range []string{uaWeChat, uaAlipay, uaDesktop} {
					d := DecideLanding(ua, av)
					app := DetectApp(ua)
					if app != "" {
						if d.ShowForm != av.Allows(app) {
							t.Errorf("ua=%s ali=%q wx=%q assoc=%v: ShowForm=%v, usable=%v", app, ali, wx, assoc, d.ShowForm, av.Allows(app))
						}
						if d.ShowForm && (d.App != app || d.Message != "") {
							t.Errorf("form decision %+v for %s", d, app)
						}
						if !d.ShowForm && d.Message != MsgNotOpen {
							t.Errorf("ua=%s with channel unusable: message %q, want %q", app, d.Message, MsgNotOpen)
						}
						continue
					}
					if d.ShowForm {
						t.Errorf("desktop browser got a form: %+v", d)
					}
					if !av.Any() && d.Message != MsgNotOpen {
						t.Errorf("desktop, nothing usable: %q", d.Message)
					}
				}
			}
		}
	}
}

func TestChannelName(t *testing.T) {
	for ch, want := range map[Channel]string{WeChat: "微信支付", Alipay: "支付宝", "unionpay": "unionpay"} {
		if got := ch.Name(); got != want {
			t.Errorf("%q.Name() = %q, want %q", ch, got, want)
		}
	}
}
