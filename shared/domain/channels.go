package domain

import "strings"

// Channel is a payment app.
type Channel string

const (
	WeChat Channel = "wechat"
	Alipay Channel = "alipay"
)

// InterfaceStatus is the application status of a company's payment interface.
type InterfaceStatus string

const (
	StatusApplying     InterfaceStatus = "applying"     // 申请中
	StatusAuthPending  InterfaceStatus = "auth_pending" // 支付宝授权待确认
	StatusApproved     InterfaceStatus = "approved"     // 申请成功
	StatusRejected     InterfaceStatus = "rejected"     // 申请失败
	StatusDisabled     InterfaceStatus = "disabled"     // 已停用
	StatusUnconfigured InterfaceStatus = ""             // no interface
)

// ChannelInputs is what C2 looks at for one community.
type ChannelInputs struct {
	AlipayStatus     InterfaceStatus // the company's Alipay interface
	WeChatStatus     InterfaceStatus // the WeChat Pay interface the community is associated with
	WeChatAssociated bool            // community associated with that interface (微信支付设置)
}

// Availability says which apps can pay at a community.
type Availability struct {
	WeChat bool
	Alipay bool
}

// Any reports whether at least one app can pay.
func (a Availability) Any() bool { return a.WeChat || a.Alipay }

// Allows reports whether ch can pay.
func (a Availability) Allows(ch Channel) bool {
	switch ch {
	case WeChat:
		return a.WeChat
	case Alipay:
		return a.Alipay
	}
	return false
}

// ChannelAvailability applies C2: Alipay is usable when the company's Alipay
// interface is "authorized, waiting for confirmation" or "approved"; WeChat Pay
// when its interface is approved and the community is associated with it.
func ChannelAvailability(in ChannelInputs) Availability {
	return Availability{
		Alipay: in.AlipayStatus == StatusAuthPending || in.AlipayStatus == StatusApproved,
		WeChat: in.WeChatAssociated && in.WeChatStatus == StatusApproved,
	}
}

// DetectApp applies C3's User-Agent rule: WeChat's in-app browser carries
// "MicroMessenger", Alipay's "AlipayClient". Anything else is "".
func DetectApp(userAgent string) Channel {
	switch {
	case strings.Contains(userAgent, "MicroMessenger"):
		return WeChat
	case strings.Contains(userAgent, "AlipayClient"):
		return Alipay
	}
	return ""
}

// Messages shown on the landing page (C3), exactly.
const (
	MsgNotOpen      = "小区暂未开通此功能"
	MsgScanWithBoth = "请使用微信或支付宝扫码"
	MsgScanWeChat   = "请使用微信扫码"
	MsgScanAlipay   = "请使用支付宝扫码"
)

// LandingDecision is what the landing page shows.
type LandingDecision struct {
	ShowForm bool    // the amount form for App
	App      Channel // the app paying (when ShowForm)
	Message  string  // the message when there is no form
}

// DecideLanding combines C2 and C3 for a scan by userAgent.
func DecideLanding(userAgent string, av Availability) LandingDecision {
	app := DetectApp(userAgent)
	if app != "" {
		if av.Allows(app) {
			return LandingDecision{ShowForm: true, App: app}
		}
		return LandingDecision{Message: MsgNotOpen}
	}
	switch {
	case av.WeChat && av.Alipay:
		return LandingDecision{Message: MsgScanWithBoth}
	case av.WeChat:
		return LandingDecision{Message: MsgScanWeChat}
	case av.Alipay:
		return LandingDecision{Message: MsgScanAlipay}
	}
	return LandingDecision{Message: MsgNotOpen}
}

// Name is the channel as people read it (微信支付, 支付宝).
func (c Channel) Name() string {
	switch c {
	case WeChat:
		return "微信支付"
	case Alipay:
		return "支付宝"
	}
	return string(c)
}
