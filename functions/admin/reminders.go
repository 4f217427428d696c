package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/estatepay/estatepay/shared/bills"
	"github.com/estatepay/estatepay/shared/domain/bill"
	"github.com/estatepay/estatepay/shared/domain/calendar"
	"github.com/estatepay/estatepay/shared/domain/house"
	"github.com/estatepay/estatepay/shared/domain/notice"
	"github.com/estatepay/estatepay/shared/domain/reminder"
	"github.com/estatepay/estatepay/shared/qrprint"
	"github.com/estatepay/estatepay/shared/web"
	"github.com/estatepay/estatepay/shared/web/console"
)

// Arrears reminders (催缴) in the console: the house page's block (the
// reminders sent, when, how, their status, and the 不接收催缴 switch), and
// the printable 催缴单 batch of a community's houses that owe overdue bills
// and have no phone (RemindFunction cannot reach them).
//
//	GET  /admin/reminders                             each community: on/off, period, last run
//	POST /admin/reminders                             form: community, enabled=1, period_days (admins)
//	POST /admin/cashier/houses/{hid}/remind-optout   form: out=1|0 (不接收催缴 on or off)
//	GET  /admin/reminders/print?community=<id>       the 催缴单 batch (?size=a5)
func init() {
	register(
		route{method: "GET", pattern: "/admin/reminders", action: ActBillsView, handle: (*Handler).remindersPage},
		route{method: "POST", pattern: "/admin/reminders", action: ActBillsImport, handle: (*Handler).saveRemindSettings},
		route{method: "POST", pattern: "/admin/cashier/houses/{hid}/remind-optout", action: ActBillsCollect, handle: (*Handler).remindOptOut},
		route{method: "GET", pattern: "/admin/reminders/print", action: ActNoticesPrint, handle: (*Handler).printReminders},
	)
	actionNames["reminder.opt_out"] = "催缴设置"
	notices["remind_off"] = "已设为不接收催缴"
	notices["remind_on"] = "已恢复接收催缴"
	notices["remind_saved"] = "催缴设置已保存"
	actionNames["reminder.settings"] = "催缴设置"
}

// remindBlock is the house page's 催缴 block.
type remindBlock struct {
	OptedOut   bool
	OptedBy    string
	OptedAt    string
	Contact    string // the masked phone, "" without one
	WeChat     string // the bound WeChat, masked (…a1b2), "" none
	BoundAt    string
	Channels   string // 微信 / 短信 (remindChannels), "" no contact
	LastAt     string
	Enabled    bool // the community's reminders are on
	Period     int  // days
	Rows       []remindRow
	PrintHref  string
	StatusNote string
}

type remindRow struct {
	At, Channel, To, Amount, Status, StatusClass, Error, NoticeHref string
	Tried                                                           string // an earlier attempt (公众号：住户未关注公众号)
	Bills                                                           int
}

var remindStatusNames = map[reminder.Status][2]string{
	reminder.Sending: {"发送中", "warn"}, reminder.Sent: {"已发送", "ok"}, reminder.Failed: {"发送失败", "bad"},
}

var remindChannelNames = map[reminder.Channel]string{reminder.SMS: "短信", reminder.WechatOA: "微信"}

// houseRemindBlock reads a house's reminders for its page (nil when the
// console has no bills table, or on an error, which is logged).
func (h *Handler) houseRemindBlock(ctx context.Context, hs house.House) *remindBlock {
	if h.Store == nil || h.Store.Bills == "" {
		return nil
	}
	th, recs, err := h.Store.ReminderRepo().HouseReminders(ctx, hs.CompanyID, hs.ID, 20)
	if err != nil {
		h.Log.ErrorContext(ctx, "house reminders", "house", hs.ID, "err", err)
		return nil
	}
	b := &remindBlock{OptedOut: th.OptedOut, OptedAt: console.When(th.OptedAt), Contact: reminder.MaskPhone(reminder.Contact(hs)),
		WeChat: strings.TrimPrefix(reminder.MaskOpenID(th.OpenID), "微信 "), BoundAt: console.When(th.BoundAt), Channels: remindChannels(hs, th),
		LastAt: console.When(th.LastAt), PrintHref: "/admin/reminders/print?community=" + url.QueryEscape(hs.CommunityID)}
	b.Enabled, b.Period = h.remindSettings(ctx, hs.CompanyID, hs.CommunityID)
	switch {
	case th.OptedBy == "resident":
		b.OptedBy = "住户退订"
	case th.OptedBy != "":
		b.OptedBy = "工作人员设置"
	}
	for _, r := range recs {
		st := remindStatusNames[r.Status]
		row := remindRow{At: console.When(r.At), Channel: remindChannelNames[r.Channel], To: r.To, Amount: yuan(r.AmountFen),
			Status: st[0], StatusClass: st[1], Error: r.Error, Bills: len(r.BillIDs)}
		for _, a := range r.Attempts {
			if !a.OK && a.Channel != r.Channel {
				row.Tried = "先试" + remindChannelNames[a.Channel] + "：" + a.Error
			}
		}
		if r.NoticeID != "" {
			row.NoticeHref = "/admin/notices/" + url.PathEscape(r.NoticeID)
		}
		b.Rows = append(b.Rows, row)
	}
	return b
}

// remindOptOut: POST /admin/cashier/houses/{hid}/remind-optout (out=1: 不接收催缴).
func (h *Handler) remindOptOut(ctx context.Context, c *call) web.Response {
	if h.Store == nil || h.Store.Bills == "" || c.p.CompanyID == "" {
		return h.fail(c, http.StatusNotImplemented, "not_implemented", "该功能即将上线")
	}
	hid := c.params["hid"]
	if _, err := h.Store.HouseRepo().GetHouse(ctx, c.p.CompanyID, hid); err != nil {
		if err == house.ErrNotFound {
			return h.notFound(c)
		}
		return h.internal(ctx, c, "get house", err)
	}
	out := c.form.Get("out") == "1"
	rem := h.Store.ReminderRepo()
	before, err := rem.Throttle(ctx, c.p.CompanyID, hid)
	if err != nil {
		return h.internal(ctx, c, "reminder throttle", err)
	}
	if err := rem.SetOptOut(ctx, c.p.CompanyID, hid, out, "staff:"+c.p.StaffID, h.now()); err != nil {
		return h.internal(ctx, c, "reminder opt-out", err)
	}
	h.audit(ctx, c, "reminder.opt_out", "house", hid, map[string]bool{"opted_out": before.OptedOut}, map[string]bool{"opted_out": out})
	done := "remind_on"
	if out {
		done = "remind_off"
	}
	return c.done("/admin/cashier/houses/"+url.PathEscape(hid), done)
}

// remindPrintExamine bounds the owing houses one 催缴单 page examines (about
// four reads each), so a page answers in a few seconds; 下一批 goes on.
var remindPrintExamine = 300

// overdueHouseBills answers a house's overdue bills to bills.IssueNotice.
type overdueHouseBills []bill.Bill

func (b overdueHouseBills) ListByHouse(context.Context, string, string) ([]bill.Bill, error) {
	return b, nil
}

// printReminders: GET /admin/reminders/print?community=<id> — one 催缴单 per
// house of the community that owes overdue bills, has no phone and has not
// opted out: its notice of exactly those bills (made now, or the one that
// covers them), as the notices' print page prints it, headed 催缴单.
func (h *Handler) printReminders(ctx context.Context, c *call) web.Response {
	if h.Notices == nil || h.Store == nil || h.Store.Bills == "" {
		return h.fail(c, http.StatusNotImplemented, "not_implemented", "该功能即将上线")
	}
	cm, resp, ok := h.loadCommunity(ctx, c, c.req.QueryStringParameters["community"])
	if !ok {
		return resp
	}
	now := h.now()
	today := calendar.BusinessDay(now)
	rem := h.Store.ReminderRepo()
	owed, err := rem.Overdue(ctx, cm.CompanyID, cm.ID, today)
	if err != nil {
		return h.internal(ctx, c, "overdue bills", err)
	}
	// The owing houses in building, unit, room order (the place is on each
	// bill); ?after= is the place of the last house a previous page examined.
	after := c.req.QueryStringParameters["after"]
	var order []string
	byHouse := map[string][]bill.Bill{}
	place := map[string]string{}
	for _, b := range owed {
		if _, ok := byHouse[b.HouseID]; !ok {
			order = append(order, b.HouseID)
			place[b.HouseID] = house.SortKey(b.Building, b.Unit, b.Room) + "#" + b.HouseID
		}
		byHouse[b.HouseID] = append(byHouse[b.HouseID], b)
	}
	sort.Slice(order, func(i, j int) bool { return place[order[i]] < place[order[j]] })
	var ns []notice.Notice
	next, last, examined := "", "", 0
	for _, hid := range order {
		if place[hid] <= after {
			continue
		}
		if len(ns) >= int(printBatch) || examined >= remindPrintExamine {
			next = last // the next page starts after the last house examined here
			break
		}
		examined, last = examined+1, place[hid]
		hs, err := h.Notices.Houses.GetHouse(ctx, cm.CompanyID, hid)
		if err != nil {
			continue // a house removed since its bills were made
		}
		if reminder.Contact(hs) != "" {
			continue
		}
		th, err := rem.Throttle(ctx, cm.CompanyID, hid)
		if err != nil {
			return h.internal(ctx, c, "reminder throttle", err)
		}
		if th.OptedOut || reminder.HasContact(hs, th) { // a bound WeChat is reached by RemindFunction
			continue
		}
		id, _, err := bills.IssueNotice(ctx, h.Notices.Houses, overdueHouseBills(reminder.Overdue(byHouse[hid], today)), hs, "staff:"+c.p.StaffID, now)
		if err != nil {
			continue // nothing overdue any more
		}
		n, err := h.Notices.Houses.GetNotice(ctx, id)
		if err != nil {
			return h.internal(ctx, c, "get notice", err)
		}
		ns = append(ns, n)
	}
	ss, err := h.Notices.summarize(ctx, ns)
	if err != nil {
		return h.internal(ctx, c, "notice bills", err)
	}
	pc, err := h.printContextOf(ctx, cm)
	if err != nil {
		return h.internal(ctx, c, "print context", err)
	}
	p := qrprint.NoticePrint{Title: "催缴单 · " + cm.Name, Back: "/admin/communities/" + url.PathEscape(cm.ID) + "/houses"}
	for _, s := range ss {
		sh := h.sheet(pc, s)
		sh.Heading = "催缴单"
		sh.Urge = "以上费用已逾期（截止 " + string(s.DueDate) + "），请尽快扫码缴纳。如已缴纳，请忽略本单。"
		p.Sheets = append(p.Sheets, sh)
	}
	p.Note = "本页 " + strconv.Itoa(len(p.Sheets)) + " 张：有逾期未缴账单、未登记手机号也未绑定微信（收不到催缴）且未设为不接收催缴的房屋，每户一张。"
	if len(p.Sheets) == 0 {
		p.Note = "没有需要打印的催缴单：有逾期账单的房屋都登记了手机号或绑定了微信，或已设为不接收催缴。"
	}
	if next != "" {
		nq := url.Values{"community": {cm.ID}, "after": {next}}
		if v := c.req.QueryStringParameters["size"]; v != "" {
			nq.Set("size", v)
		}
		p.Next = "/admin/reminders/print?" + nq.Encode()
		p.Note += "还有更多，打印完本页后请点“下一批”。"
	}
	return h.renderPrint(ctx, c, p)
}

// remindSettings answers whether a community's reminders are on and their
// period in days (the default when it has no settings).
func (h *Handler) remindSettings(ctx context.Context, companyID, communityID string) (bool, int) {
	all, err := h.Store.ReminderRepo().ReminderSettings(ctx, companyID)
	if err != nil {
		h.Log.ErrorContext(ctx, "reminder settings", "err", err)
	}
	for _, s := range all {
		if s.CommunityID == communityID {
			return s.Enabled, int(s.Period() / (24 * time.Hour))
		}
	}
	return false, int(reminder.DefaultPeriod / (24 * time.Hour))
}

type remindCommunityRow struct {
	ID, Name   string
	Enabled    bool
	Period     int
	LastRun    string // when
	Outcome    string // 发送 n · 失败 n · …
	Deferred   string
	CanEdit    bool
	PrintHref  string
	HousesHref string
}

type remindersBody struct {
	Rows    []remindCommunityRow
	CanEdit bool
	Error   string
}

// remindersPage: GET /admin/reminders — every community of the company:
// reminders on or off, the period, the last run's outcome.
func (h *Handler) remindersPage(ctx context.Context, c *call) web.Response {
	return h.renderReminders(ctx, c, http.StatusOK, "")
}

func (h *Handler) renderReminders(ctx context.Context, c *call, status int, errMsg string) web.Response {
	if h.Store == nil || h.Store.Bills == "" || c.p.CompanyID == "" {
		return h.fail(c, http.StatusNotImplemented, "not_implemented", "该功能即将上线")
	}
	co := c.p.CompanyID
	cms, err := h.Store.ListCommunities(ctx, co)
	if err != nil {
		return h.internal(ctx, c, "list communities", err)
	}
	rem := h.Store.ReminderRepo()
	settings, err := rem.ReminderSettings(ctx, co)
	if err != nil {
		return h.internal(ctx, c, "reminder settings", err)
	}
	runs, err := rem.Runs(ctx, co)
	if err != nil {
		return h.internal(ctx, c, "reminder runs", err)
	}
	b := remindersBody{CanEdit: can(c.p.Role, ActBillsImport), Error: errMsg}
	for _, cm := range cms {
		r := remindCommunityRow{ID: cm.ID, Name: cm.Name, Period: int(reminder.DefaultPeriod / (24 * time.Hour)), CanEdit: b.CanEdit,
			PrintHref: "/admin/reminders/print?community=" + url.QueryEscape(cm.ID), HousesHref: communityPath(cm.ID, "/houses")}
		for _, s := range settings {
			if s.CommunityID == cm.ID {
				r.Enabled, r.Period = s.Enabled, int(s.Period()/(24*time.Hour))
			}
		}
		if raw, ok := runs[cm.ID]; ok {
			var sum reminder.Summary
			if json.Unmarshal([]byte(raw), &sum) == nil {
				r.LastRun = console.When(sum.At)
				r.Outcome = fmt.Sprintf("有逾期 %d 户 · 已发送 %d · 失败 %d · 周期内已提醒 %d · 不接收 %d · 无联系方式 %d", sum.Houses, sum.Sent, sum.Failed, sum.Recent, sum.OptedOut, sum.NoContact)
				if sum.SentWechat > 0 {
					r.Outcome = strings.Replace(r.Outcome, fmt.Sprintf("已发送 %d", sum.Sent), fmt.Sprintf("已发送 %d（微信 %d）", sum.Sent, sum.SentWechat), 1)
				}
				if sum.Errors > 0 {
					r.Outcome += fmt.Sprintf(" · 出错 %d（下次重试）", sum.Errors)
				}
				if sum.Stopped {
					r.Outcome += " · 未完成（下次继续）"
				}
				if sum.Deferred {
					r.Outcome = sum.Message
				}
			}
		}
		b.Rows = append(b.Rows, r)
	}
	v := h.page(c, "催缴", b)
	return h.render(status, "reminders.html", v)
}

// saveRemindSettings: POST /admin/reminders (community, enabled=1, period_days).
func (h *Handler) saveRemindSettings(ctx context.Context, c *call) web.Response {
	if h.Store == nil || h.Store.Bills == "" || c.p.CompanyID == "" {
		return h.fail(c, http.StatusNotImplemented, "not_implemented", "该功能即将上线")
	}
	cm, resp, ok := h.loadCommunity(ctx, c, c.form.Get("community"))
	if !ok {
		return resp
	}
	days, err := strconv.Atoi(strings.TrimSpace(c.form.Get("period_days")))
	if err != nil || days < 1 {
		return h.renderReminders(ctx, c, http.StatusUnprocessableEntity, "催缴间隔应为 1 到 "+strconv.Itoa(reminder.MaxPeriodDays)+" 天的整数")
	}
	s := reminder.Settings{CompanyID: cm.CompanyID, CommunityID: cm.ID, Enabled: c.form.Get("enabled") == "1", PeriodDays: days}
	if err := s.Check(); err != nil {
		return h.renderReminders(ctx, c, http.StatusUnprocessableEntity, "催缴间隔应为 1 到 "+strconv.Itoa(reminder.MaxPeriodDays)+" 天的整数")
	}
	if err := h.Store.ReminderRepo().PutReminderSettings(ctx, s); err != nil {
		return h.internal(ctx, c, "save reminder settings", err)
	}
	h.audit(ctx, c, "reminder.settings", "community", cm.ID, nil, map[string]any{"enabled": s.Enabled, "period_days": s.PeriodDays})
	return c.done("/admin/reminders", "remind_saved")
}
