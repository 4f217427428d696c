package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/estatepay/estatepay/shared/bills"
	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/bill"
	"github.com/estatepay/estatepay/shared/domain/calendar"
	"github.com/estatepay/estatepay/shared/domain/house"
	"github.com/estatepay/estatepay/shared/domain/notice"
	"github.com/estatepay/estatepay/shared/domain/reminder"
	"github.com/estatepay/estatepay/shared/notify"
	"github.com/estatepay/estatepay/shared/notify/wechatoa"
	"github.com/estatepay/estatepay/shared/store"
)

// Reminders is the reminders' store (shared/store.Reminders).
type Reminders interface {
	ReminderSettings(ctx context.Context, companyID string) ([]reminder.Settings, error)
	Overdue(ctx context.Context, companyID, communityID string, today calendar.Day) ([]bill.Bill, error)
	Throttle(ctx context.Context, companyID, houseID string) (reminder.Throttle, error)
	Claim(ctx context.Context, t reminder.Throttle, rec reminder.Record, period time.Duration) (reminder.Throttle, error)
	Finish(ctx context.Context, t reminder.Throttle, rec reminder.Record) error
	PutRun(ctx context.Context, companyID, communityID, summaryJSON string) error
}

// Houses reads houses (shared/store.Houses).
type Houses interface {
	GetHouse(ctx context.Context, companyID, id string) (house.House, error)
}

// Handler runs the reminders once per invocation.
type Handler struct {
	Reminders Reminders
	Houses    Houses
	Notices   bills.NoticeStore
	SMS       notify.SMS
	// SMSTemplateID is the approved 催缴 template, five parameters: the
	// house, the number of overdue bills, their total in yuan, the pay link,
	// the 退订 link (e.g. {1}业主您好，您有{2}笔物业费用已逾期，合计{3}元，
	// 请点击 {4} 缴纳。不再接收请点 {5}).
	SMSTemplateID string
	// OA sends the official-account template message to a house with a
	// bound openid (nil: the channel is off, such houses get the SMS).
	OA OASender
	// OATemplateID is the 催缴 template message (RemindWechatTemplateId),
	// fields house, count, total, due; its url is the pay link.
	OATemplateID string
	BaseURL      string // PUBLIC_BASE_URL: the notice's pay link /n/{id}, the 退订 link /u/{token}
	UnsubKey     []byte // signs the 退订 links (reminder.UnsubToken)
	Clock        func() time.Time
	Log          *slog.Logger
	// Margin is how long before the Lambda deadline a run stops (default 5 s).
	Margin time.Duration
}

// OASender sends official-account template messages (*wechatoa.Client).
type OASender interface {
	Send(ctx context.Context, m wechatoa.Template) error
}

// oaOn reports whether the official-account channel is configured.
func (h *Handler) oaOn() bool { return h.OA != nil && h.OATemplateID != "" }

// Input is the schedule's (or the control endpoint's) input: empty runs
// every community whose reminders are on; company and community run that
// one (its settings if any, the defaults otherwise).
type Input struct {
	Job       string `json:"job,omitempty"`
	Company   string `json:"company,omitempty"`
	Community string `json:"community,omitempty"`
}

// Report is one invocation's outcome.
type Report struct {
	At          time.Time          `json:"at"`
	Deferred    bool               `json:"deferred,omitempty"` // the quiet hours: nothing sent
	Message     string             `json:"message,omitempty"`
	Communities []reminder.Summary `json:"communities"`
	Sent        int                `json:"sent"`
	Failed      int                `json:"failed"`
	Stopped     bool               `json:"stopped,omitempty"`
}

// Handle runs the reminders: in the quiet hours it sends nothing and says
// so; otherwise it reminds the due houses of each community, stopping
// Margin before the Lambda deadline (the rest are reminded by the next
// run). Per-house failures are counted and retried next run; only a failure
// to read the settings fails the invocation.
func (h *Handler) Handle(ctx context.Context, raw json.RawMessage) (Report, error) {
	var in Input
	if len(raw) > 0 && string(raw) != "null" {
		if err := json.Unmarshal(raw, &in); err != nil {
			return Report{}, fmt.Errorf("remind: input: %w", err)
		}
	}
	now := h.Clock()
	rep := Report{At: now, Communities: []reminder.Summary{}}
	var list []reminder.Settings
	if in.Company != "" || in.Community != "" {
		if in.Company == "" || in.Community == "" {
			return rep, errors.New("remind: input needs both company and community")
		}
		s := reminder.Settings{CompanyID: in.Company, CommunityID: in.Community, Enabled: true}
		all, err := h.Reminders.ReminderSettings(ctx, in.Company)
		if err != nil {
			return rep, err
		}
		for _, got := range all {
			if got.CommunityID == in.Community {
				s.PeriodDays = got.PeriodDays
			}
		}
		list = []reminder.Settings{s}
	} else {
		all, err := h.Reminders.ReminderSettings(ctx, "")
		if err != nil {
			return rep, err
		}
		for _, s := range all {
			if s.Enabled {
				list = append(list, s)
			}
		}
	}
	if reminder.Quiet(now) { // nothing is sent; each community's page says so
		rep.Deferred, rep.Message = true, reminder.QuietMessage
		for _, st := range list {
			sum := reminder.Summary{CompanyID: st.CompanyID, CommunityID: st.CommunityID, At: now, Deferred: true, Message: reminder.QuietMessage}
			rep.Communities = append(rep.Communities, sum)
			h.keep(ctx, sum)
		}
		h.Log.InfoContext(ctx, "reminders deferred: quiet hours", "at", calendar.Format(now), "communities", len(list))
		return rep, nil
	}
	until := time.Time{}
	if dl, ok := ctx.Deadline(); ok {
		m := h.Margin
		if m == 0 {
			m = 5 * time.Second
		}
		until = dl.Add(-m)
	}
	for _, s := range list {
		if !until.IsZero() && time.Now().After(until) {
			rep.Stopped = true
			break
		}
		sum := h.community(ctx, s, now, until)
		rep.Communities = append(rep.Communities, sum)
		rep.Sent += sum.Sent
		rep.Failed += sum.Failed
		rep.Stopped = rep.Stopped || sum.Stopped
		if sum.Deferred {
			rep.Deferred, rep.Message = true, sum.Message
		}
		h.keep(ctx, sum)
	}
	h.Log.InfoContext(ctx, "reminders done", "communities", len(rep.Communities), "sent", rep.Sent, "failed", rep.Failed, "stopped", rep.Stopped)
	return rep, nil
}

// keep stores a community's run summary for the console (a failure is logged).
func (h *Handler) keep(ctx context.Context, sum reminder.Summary) {
	b, err := json.Marshal(sum)
	if err == nil {
		err = h.Reminders.PutRun(ctx, sum.CompanyID, sum.CommunityID, string(b))
	}
	if err != nil {
		h.Log.WarnContext(ctx, "reminder run summary not kept", "company", sum.CompanyID, "community", sum.CommunityID, "err", err)
	}
}

// houseBills answers a house's overdue bills to shared/bills.IssueNotice,
// so the notice covers exactly them (not the house's bills not yet due).
type houseBills []bill.Bill

func (b houseBills) ListByHouse(context.Context, string, string) ([]bill.Bill, error) { return b, nil }

func (h *Handler) community(ctx context.Context, s reminder.Settings, now, until time.Time) reminder.Summary {
	sum := reminder.Summary{CompanyID: s.CompanyID, CommunityID: s.CommunityID, At: now}
	today := calendar.BusinessDay(now)
	owed, err := h.Reminders.Overdue(ctx, s.CompanyID, s.CommunityID, today)
	if err != nil {
		h.Log.ErrorContext(ctx, "overdue bills not read", "company", s.CompanyID, "community", s.CommunityID, "err", err)
		sum.Errors++
		return sum
	}
	var order []string
	byHouse := map[string][]bill.Bill{}
	for _, b := range owed {
		if _, ok := byHouse[b.HouseID]; !ok {
			order = append(order, b.HouseID)
		}
		byHouse[b.HouseID] = append(byHouse[b.HouseID], b)
	}
	for _, houseID := range order {
		if !until.IsZero() && time.Now().After(until) {
			sum.Stopped = true
			break
		}
		if reminder.Quiet(h.Clock()) { // a long run that reaches 21:00 stops there
			sum.Deferred, sum.Message = true, reminder.QuietMessage
			break
		}
		overdue := reminder.Overdue(byHouse[houseID], today)
		if len(overdue) == 0 {
			continue
		}
		sum.Houses++
		switch out, err := h.house(ctx, s, houseID, overdue, now); {
		case err != nil:
			sum.Errors++
			h.Log.ErrorContext(ctx, "house not reminded", "company", s.CompanyID, "house", houseID, "err", err)
		case out == sentWechat:
			sum.Sent++
			sum.SentWechat++
		case out == string(reminder.Sent):
			sum.Sent++
		case out == string(reminder.Failed):
			sum.Failed++
		case out == string(reminder.RecentlySent):
			sum.Recent++
		case out == string(reminder.OptedOut):
			sum.OptedOut++
		case out == string(reminder.NoContact):
			sum.NoContact++
		}
	}
	return sum
}

// house reminds one house if the rule says it is due: the notice of its
// overdue bills, the claim (throttle + record, one transaction), the send,
// its result. It answers the record's status (sent, failed; sentWechat
// when the template message delivered it), or the rule's outcome when
// nothing was sent.
func (h *Handler) house(ctx context.Context, s reminder.Settings, houseID string, overdue []bill.Bill, now time.Time) (string, error) {
	hs, err := h.Houses.GetHouse(ctx, s.CompanyID, houseID)
	if err != nil {
		return "", err
	}
	th, err := h.Reminders.Throttle(ctx, s.CompanyID, houseID)
	if err != nil {
		return "", err
	}
	if out := reminder.Decide(hs, overdue, th, s.Period(), now); out != reminder.Due {
		return string(out), nil
	}
	useOA := th.OpenID != "" && h.oaOn()
	if !useOA && reminder.Contact(hs) == "" { // only an openid, and the channel is off
		return string(reminder.NoContact), nil
	}
	noticeID, _, err := bills.IssueNotice(ctx, h.Notices, houseBills(overdue), hs, "remind", now)
	if err != nil {
		if errors.Is(err, notice.ErrNothingToBill) {
			return string(reminder.NothingDue), nil
		}
		return "", err
	}
	rec := reminder.Record{ID: notice.NewID(), CompanyID: s.CompanyID, CommunityID: s.CommunityID, HouseID: houseID, At: now,
		Channel: reminder.SMS, To: reminder.MaskPhone(reminder.Contact(hs)), NoticeID: noticeID, Status: reminder.Sending}
	if useOA {
		rec.Channel, rec.To = reminder.WechatOA, reminder.MaskOpenID(th.OpenID)
	}
	for _, b := range overdue {
		rec.BillIDs = append(rec.BillIDs, b.ID)
		rec.AmountFen += b.AmountFen
	}
	claimed, err := h.Reminders.Claim(ctx, th, rec, s.Period())
	if errors.Is(err, store.ErrReminded) {
		return string(reminder.RecentlySent), nil
	}
	if err != nil {
		return "", err
	}
	payURL := notice.NoticeURL(h.BaseURL, noticeID)
	total := domain.FormatYuan(domain.Fen(rec.AmountFen))
	rec.Status = reminder.Sent
	sms := true
	if useOA {
		sms = false
		m := wechatoa.Template{ToOpenID: th.OpenID, TemplateID: h.OATemplateID, URL: payURL, Data: map[string]string{
			"house": hs.Label(), "count": fmt.Sprint(len(overdue)), "total": total + "元", "due": string(overdue[0].DueDate)}}
		err := h.OA.Send(ctx, m)
		var apiErr *wechatoa.APIError
		switch {
		case err == nil:
			rec.Attempts = append(rec.Attempts, reminder.Attempt{Channel: reminder.WechatOA, To: rec.To, OK: true})
		case errors.As(err, &apiErr) && apiErr.Permanent():
			why := "住户未关注公众号"
			if apiErr.Code == wechatoa.CodeInvalidOpenID {
				why = "绑定的微信无效"
			}
			rec.Attempts = append(rec.Attempts, reminder.Attempt{Channel: reminder.WechatOA, To: rec.To, Error: why})
			if reminder.Contact(hs) != "" {
				sms = true // the fallback: the same reminder by SMS
				rec.Channel, rec.To = reminder.SMS, reminder.MaskPhone(reminder.Contact(hs))
			} else {
				rec.Status, rec.Error = reminder.Failed, why+"，且未登记手机号，下次运行时重试"
			}
			h.Log.WarnContext(ctx, "reminder OA message refused", "company", s.CompanyID, "house", houseID, "reminder", rec.ID, "code", apiErr.Code, "sms_fallback", sms)
		default:
			rec.Status, rec.Error = reminder.Failed, "公众号消息发送失败，下次运行时重试"
			rec.Attempts = append(rec.Attempts, reminder.Attempt{Channel: reminder.WechatOA, To: rec.To, Error: "发送失败"})
			h.Log.WarnContext(ctx, "reminder OA message failed", "company", s.CompanyID, "house", houseID, "reminder", rec.ID, "err", err)
		}
	}
	if sms {
		msg := notify.SMSMessage{Phone: reminder.Contact(hs), TemplateID: h.SMSTemplateID,
			Params: []string{hs.Label(), fmt.Sprint(len(overdue)), total, payURL,
				reminder.UnsubURL(h.BaseURL, h.UnsubKey, s.CompanyID, houseID)}}
		if err := h.SMS.SendSMS(ctx, msg); err != nil {
			rec.Status, rec.Error = reminder.Failed, "短信发送失败，下次运行时重试"
			h.Log.WarnContext(ctx, "reminder SMS failed", "company", s.CompanyID, "house", houseID, "reminder", rec.ID, "err", err)
		}
		if useOA { // record both attempts
			a := reminder.Attempt{Channel: reminder.SMS, To: rec.To, OK: rec.Status == reminder.Sent}
			if !a.OK {
				a.Error = "发送失败"
			}
			rec.Attempts = append(rec.Attempts, a)
		}
	}
	rec.DoneAt = h.Clock()
	if err := h.Reminders.Finish(ctx, claimed, rec); err != nil {
		return "", err
	}
	if rec.Status == reminder.Sent && rec.Channel == reminder.WechatOA {
		return sentWechat, nil
	}
	return string(rec.Status), nil
}

// sentWechat is house's answer for a reminder delivered by template message.
const sentWechat = "sent_wechat"
