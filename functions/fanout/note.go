package main

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/calendar"
	"github.com/estatepay/estatepay/shared/domain/notification"
	"github.com/estatepay/estatepay/shared/domain/staff"
	"github.com/estatepay/estatepay/shared/notify"
	"github.com/estatepay/estatepay/shared/notify/tencentsms"
	"github.com/estatepay/estatepay/shared/notify/wechatoa"
	"github.com/estatepay/estatepay/shared/store"
)

// Note is a message as people read it, whatever the channel.
type Note struct {
	Title     string // 收款成功通知 | 收款汇总通知
	Community string
	Amount    string // the payment's amount (an instant message), yuan
	Count     string // payments the message covers, e.g. "3笔"
	Total     string // their sum, yuan
	Time      string // the latest payment (instant) or the period (digest), Beijing time
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

// Delivery sends notes on the three channels.
type Delivery struct {
	OA            *wechatoa.Client // nil: the channel is not configured
	OATemplateID  string           // fields: community, amount, count, total, time (README)
	OALinkURL     string           // opened when the message is tapped: the console's records
	SMS           notify.SMS       // nil: not configured
	SMSTemplateID string           // parameters: title, community, count, total
	Email         notify.Email
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
		err := d.OA.Send(ctx, wechatoa.Template{ToOpenID: to.OpenID, TemplateID: d.OATemplateID, URL: d.OALinkURL, Data: map[string]string{
			"title": n.Title, "community": n.Community, "amount": n.Amount, "count": n.Count, "total": n.Total, "time": n.Time}})
		var api *wechatoa.APIError
		if errors.As(err, &api) && api.Permanent() {
			if api.Code == wechatoa.CodeNotFollowing {
				return &PermanentError{ProblemNotFollowing}
			}
			return &PermanentError{ProblemBadOpenID}
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
		return err
	case notification.Email:
		if d.Email == nil || to.Email == "" {
			return &PermanentError{ProblemNoEmail}
		}
		return d.Email.SendEmail(ctx, notify.EmailMessage{To: to.Email, Subject: n.Title + "：" + n.Community + " " + n.Total, Text: n.Text()})
	}
	return &PermanentError{"未知的通知方式"}
}

// DirectoryNames reads community names from the directory, kept per instance.
type DirectoryNames struct {
	Store *store.Store
	mu    sync.Mutex
	names map[string]string
}

// CommunityName implements Names.
func (d *DirectoryNames) CommunityName(ctx context.Context, id string) string {
	d.mu.Lock()
	name, ok := d.names[id]
	d.mu.Unlock()
	if ok {
		return name
	}
	c, err := d.Store.GetCommunity(ctx, id)
	if err != nil {
		return ""
	}
	d.mu.Lock()
	if d.names == nil {
		d.names = map[string]string{}
	}
	d.names[id] = c.Name
	d.mu.Unlock()
	return c.Name
}

// tokenCache adapts store.Notifications to wechatoa.TokenCache.
type tokenCache struct{ n *store.Notifications }

func (c tokenCache) GetToken(ctx context.Context, appID string) (wechatoa.Token, error) {
	t, err := c.n.GetToken(ctx, appID)
	return wechatoa.Token{Value: t.Value, ExpiresAt: t.ExpiresAt}, err
}

func (c tokenCache) PutToken(ctx context.Context, appID string, t wechatoa.Token) error {
	return c.n.PutToken(ctx, appID, store.Token{Value: t.Value, ExpiresAt: t.ExpiresAt})
}
