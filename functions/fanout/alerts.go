package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"

	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/calendar"
	"github.com/estatepay/estatepay/shared/domain/notification"
	"github.com/estatepay/estatepay/shared/domain/order"
	"github.com/estatepay/estatepay/shared/domain/staff"
	"github.com/estatepay/estatepay/shared/store"
)

// refundFailed tells the company's admins that a refund did not go through
// (the provider closed it or found it abnormal): people must act.
func (h *Handler) refundFailed(ctx context.Context, ev order.Event) error {
	if ev.OrderID == "" {
		return &PoisonError{"refund.failed without order_id"}
	}
	community := h.Names.CommunityName(ctx, ev.CommunityID)
	if community == "" {
		community = ev.CommunityID
	}
	amount := domain.FormatYuan(domain.Fen(ev.AmountFen)) + "元"
	n := Note{Title: "退款失败提醒", Community: community, Amount: amount, Count: "1笔", Total: amount,
		Time: calendar.Local(ev.At).Format("2006-01-02 15:04:05"), Path: "/admin/orders/" + url.PathEscape(ev.OrderID),
		Detail: fmt.Sprintf("%s 订单 %s 的退款 %s 未成功，款项未退回付款人，可退金额已恢复。请在控制台查看该笔收款并处理。", community, ev.OrderID, amount)}
	m := notification.Message{Kind: notification.RefundFailed, Count: 1, SumFen: ev.AmountFen, Since: ev.At,
		Last: notification.Payment{EventID: ev.ID, CommunityID: ev.CommunityID, AmountFen: ev.AmountFen, At: ev.At}}
	return h.alertAdmins(ctx, ev.ID, ev.CompanyID, ev.CommunityID, m, n)
}

// exceptionsFound tells the company's admins that reconciliation found new
// differences, linking to 结算对账 of that month.
func (h *Handler) exceptionsFound(ctx context.Context, ev notification.ExceptionsFound) error {
	if ev.IfaceID == "" || ev.New <= 0 {
		return &PoisonError{"settlement.exceptions without iface_id or new exceptions"}
	}
	if _, err := calendar.ParseDay(string(ev.Day)); err != nil {
		return &PoisonError{"settlement.exceptions: business_day " + string(ev.Day)}
	}
	where := domain.Channel(ev.Channel).Name()
	if ev.Merchant != "" {
		where += " 商户号 " + ev.Merchant
	}
	n := Note{Title: "对账差异提醒", Community: where, Count: fmt.Sprintf("%d条", ev.New), Time: string(ev.Day),
		Path:   "/admin/settlement?month=" + string(ev.Day)[:7],
		Detail: fmt.Sprintf("%s 的对账发现 %d 条新的差异（%s）。请到控制台「结算对账」核对并处理。", ev.Day, ev.New, where)}
	m := notification.Message{Kind: notification.Exceptions, Count: int64(ev.New), Since: ev.Day.Start(),
		Last: notification.Payment{EventID: ev.ID, At: ev.At}}
	return h.alertAdmins(ctx, ev.ID, ev.CompanyID, "", m, n)
}

// alertAdmins sends one event's note to every active admin of the company,
// once each (the (event, recipient) marker), not throttled. A recipient's
// failure fails the message (retried; the others are not told twice).
func (h *Handler) alertAdmins(ctx context.Context, eventID, companyID, communityID string, m notification.Message, n Note) error {
	all, err := h.Staff.ListStaff(ctx, companyID)
	if err != nil {
		return err
	}
	var failed []error
	for _, st := range all {
		if st.Role != staff.Admin || st.Status != staff.Active || st.CompanyID != companyID {
			continue
		}
		o, send, err := h.Store.Alert(ctx, eventID, st.ID, companyID, communityID, m, h.Clock())
		if err == nil && send {
			err = h.alert(ctx, o, st, n)
		}
		if err != nil {
			h.Log.WarnContext(ctx, "fanout: admin not told", "event_id", eventID, "staff_id", st.ID, "err", err)
			failed = append(failed, err)
		}
		if accountWide(err) {
			break // every other admin would be refused alike
		}
	}
	return errors.Join(failed...)
}

// alert sends a note to one admin on the first usable channel: the one they
// chose on 通知设置 (the latest choice), then the official account, then
// e-mail. SMS is not used: its approved template is the payment message.
// No usable channel is recorded on the message (failed, with what each
// channel lacks), not retried.
func (h *Handler) alert(ctx context.Context, o store.Outgoing, st staff.Staff, n Note) error {
	prefs, err := h.Store.Preferences(ctx, o.CompanyID, st.ID)
	if err != nil {
		return err
	}
	var problems []string
	for _, ch := range alertChannels(prefs, &st) {
		err := h.Sender.Send(ctx, st, ch, n)
		var perm *PermanentError
		if errors.As(err, &perm) {
			problems = append(problems, ch.Label()+"："+perm.Problem)
			continue
		}
		if err != nil {
			return err
		}
		h.Log.InfoContext(ctx, "fanout: admin told", "staff_id", st.ID, "channel", string(ch), "kind", string(o.Message.Kind))
		return h.Store.Delivered(ctx, o.Key, store.MsgSent, "")
	}
	h.Log.WarnContext(ctx, "fanout: admin has no usable channel", "staff_id", st.ID, "problems", strings.Join(problems, "；"))
	return h.Store.Delivered(ctx, o.Key, store.MsgFailed, strings.Join(problems, "；"))
}

// alertChannels orders the channels to try for an admin, and takes the
// openid bound for notifications (a preference's) over the login-bound one.
func alertChannels(prefs []notification.Preference, st *staff.Staff) []notification.Channel {
	sort.SliceStable(prefs, func(i, j int) bool { return prefs[i].UpdatedAt.After(prefs[j].UpdatedAt) })
	var out []notification.Channel
	add := func(c notification.Channel) {
		if (c == notification.WeChatOA || c == notification.Email) && !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	for _, p := range prefs {
		if p.OpenID != "" {
			st.OpenID = p.OpenID
			break
		}
	}
	if len(prefs) > 0 {
		add(prefs[0].Channel)
	}
	add(notification.WeChatOA)
	add(notification.Email)
	return out
}
