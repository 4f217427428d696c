package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/calendar"
	"github.com/estatepay/estatepay/shared/domain/notification"
	"github.com/estatepay/estatepay/shared/domain/staff"
	"github.com/estatepay/estatepay/shared/notify"
	"github.com/estatepay/estatepay/shared/notify/tencentsms"
	"github.com/estatepay/estatepay/shared/notify/wechatoa"
	"github.com/estatepay/estatepay/shared/setup"
	"github.com/estatepay/estatepay/shared/store"
)

// Note is a message as people read it, whatever the channel.
type Note struct {
	Title     string // 收款成功通知 | 收款汇总通知 | 退款失败提醒 | 对账差异提醒
	Community string // or, for reconciliation, the channel and merchant
	Amount    string // the payment's (refund's) amount (an instant message), yuan
	Count     string // payments the message covers, e.g. "3笔" (exceptions: "3条")
	Total     string // their sum, yuan
	Time      string // the latest payment (instant) or the period (digest), Beijing time; the business day (exceptions)
	// Detail is the whole message as a sentence (admin alerts; "" the payment wording).
	Detail string
	// Path is the console page the message opens ("" the records).
	Path string
}

// Render is the note of an outgoing message.
func Render(o store.Outgoing, community string) Note {
	if community == "" {
		community = o.CommunityID
	}
	m := o.Message
	n := Note{Community: community, Count: fmt.Sprintf("%d笔", m.Count), Total: domain.FormatYuan(domain.Fen(m.SumFen)) + "元"}
	if m.Kind == notification.Digest {
		n.Title = "收款汇总通知"
		n.Time = calendar.Local(m.Since).Format("01-02 15:04") + " 起"
		return n
	}
	n.Title = "收款成功通知"
	n.Amount = domain.FormatYuan(domain.Fen(m.Last.AmountFen)) + "元"
	n.Time = calendar.Local(m.Last.At).Format("2006-01-02 15:04:05")
	return n
}

// Text is the note as one line of text (SMS, e-mail).
func (n Note) Text() string {
	if n.Detail != "" {
		return n.Title + "：" + n.Detail
	}
	if n.Amount != "" && n.Count == "1笔" {
		return fmt.Sprintf("%s：%s 收款 %s（%s）。", n.Title, n.Community, n.Amount, n.Time)
	}
	if n.Amount != "" {
		return fmt.Sprintf("%s：%s 收款 %s（%s）；连同此前未通知的共 %s，合计 %s。", n.Title, n.Community, n.Amount, n.Time, n.Count, n.Total)
	}
	return fmt.Sprintf("%s：%s 起共收款 %s，合计 %s（%s 等）。", n.Title, n.Time, n.Count, n.Total, n.Community)
}

// Problems recorded for the console (what the staff member must do).
const (
	ProblemNoOA         = "公众号通知未开通，请选择其他方式"
	ProblemNoOpenID     = "未绑定微信：请在微信中打开控制台登录一次以绑定"
	ProblemNotFollowing = "请先关注公众号，才能收到收款通知"
	ProblemBadOpenID    = "绑定的微信无效：请在微信中重新登录控制台"
	ProblemBadPhone     = "手机号无法接收短信，请检查账号的手机号或选择其他方式"
	ProblemNoSMS        = "短信通知未开通，请选择其他方式"
	ProblemNoEmail      = "账号没有电子邮箱，请选择其他方式"
)

// Delivery sends notes on the three channels. Provider refusals become:
// *PermanentError when the recipient must act (follow the account, a phone
// or address), *MisconfiguredError when an operator must (the official
// account's setup), *QuotaError when a sending quota is used up; other
// errors are transient.
type Delivery struct {
	OA            *wechatoa.Client // nil: the channel is not configured
	OATemplateID  string           // fields: title, community, amount, count, total, time (README)
	OALinkURL     string           // opened when the message is tapped: the console's records
	BaseURL       string           // the console's origin, for a note's Path ("" OALinkURL always)
	SMS           notify.SMS       // nil: not configured
	SMSTemplateID string           // parameters: title, community, count, total
	Email         notify.Email
}

// link is the page a note opens.
func (d *Delivery) link(n Note) string {
	if n.Path != "" && d.BaseURL != "" {
		return strings.TrimRight(d.BaseURL, "/") + n.Path
	}
	return d.OALinkURL
}

// Send implements Sender.
func (d *Delivery) Send(ctx context.Context, to staff.Staff, ch notification.Channel, n Note) error {
	switch ch {
	case notification.WeChatOA:
		if d.OA == nil || d.OATemplateID == "" {
			return &PermanentError{ProblemNoOA}
		}
		if to.OpenID == "" {
			return &PermanentError{ProblemNoOpenID}
		}
		err := d.OA.Send(ctx, wechatoa.Template{ToOpenID: to.OpenID, TemplateID: d.OATemplateID, URL: d.link(n), Data: map[string]string{
			"title": n.Title, "community": n.Community, "amount": n.Amount, "count": n.Count, "total": n.Total, "time": n.Time}})
		var api *wechatoa.APIError
		switch {
		case !errors.As(err, &api):
			return err
		case api.Code == wechatoa.CodeNotFollowing:
			return &PermanentError{ProblemNotFollowing}
		case api.Permanent():
			return &PermanentError{ProblemBadOpenID}
		case api.Misconfigured():
			return &MisconfiguredError{err}
		case api.Quota():
			return &QuotaError{err}
		}
		return err
	case notification.SMS:
		if d.SMS == nil || d.SMSTemplateID == "" {
			return &PermanentError{ProblemNoSMS}
		}
		err := d.SMS.SendSMS(ctx, notify.SMSMessage{Phone: to.Phone, TemplateID: d.SMSTemplateID, Params: []string{n.Title, n.Community, n.Count, n.Total}})
		if errors.Is(err, tencentsms.ErrBadPhone) {
			return &PermanentError{ProblemBadPhone}
		}
		if errors.Is(err, tencentsms.ErrRateLimited) {
			return &QuotaError{err}
		}
		return err
	case notification.Email:
		if d.Email == nil || to.Email == "" {
			return &PermanentError{ProblemNoEmail}
		}
		subject, text := n.Title+"："+n.Community+" "+n.Total, n.Text()
		if n.Detail != "" {
			subject = n.Title + "：" + n.Community
		}
		if l := d.link(n); l != "" && n.Path != "" {
			text += "\n" + l
		}
		return d.Email.SendEmail(ctx, notify.EmailMessage{To: to.Email, Subject: strings.TrimSpace(subject), Text: text})
	}
	return &PermanentError{"未知的通知方式"}
}

// tokenCache is the official account's shared access token in the
// AccessTable (shared/setup: RemindFunction and the console use it too).
type tokenCache = setup.OATokenCache
