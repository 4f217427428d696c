package store_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"testing"
	"time"

	"github.com/estatepay/estatepay/shared/accounts"
	"github.com/estatepay/estatepay/shared/domain/staff"
	"github.com/estatepay/estatepay/shared/notify"
	"github.com/estatepay/estatepay/shared/store/accesstest"
)

// The AccessTable contract, against the embedded DynamoDB with the
// template's tables (or real DynamoDB: see newStore).
func TestAccessContract(t *testing.T) {
	accesstest.Run(t, func(t *testing.T) accounts.Repository { return newStore(t).AccessRepo() })
}

type mailbox struct {
	sms    []notify.SMSMessage
	emails []notify.EmailMessage
}

func (m *mailbox) SendSMS(_ context.Context, s notify.SMSMessage) error {
	m.sms = append(m.sms, s)
	return nil
}
func (m *mailbox) SendEmail(_ context.Context, e notify.EmailMessage) error {
	m.emails = append(m.emails, e)
	return nil
}

// The service's commands on the DynamoDB adapter: every write set is one
// transaction the embedded DynamoDB accepts (no item twice, conditions that
// hold), through registration, login, squeeze-out, the SMS step-up, disable.
func TestAccountsServiceOnDynamoDB(t *testing.T) {
	ctx := context.Background()
	box := &mailbox{}
	svc := &accounts.Service{Repo: newStore(t).AccessRepo(), SMS: box, Email: box, PublicBaseURL: "https://pay.example.com", SMSTemplateID: "tpl",
		Log: slog.New(slog.DiscardHandler)}
	token := func() string {
		m := regexp.MustCompile(`token=([A-Za-z0-9_-]+)`).FindStringSubmatch(box.emails[len(box.emails)-1].Text)
		if m == nil {
			t.Fatal("no link")
		}
		return m[1]
	}
	phone := fmt.Sprintf("17%09d", time.Now().UnixNano()%1_000_000_000)
	op := accounts.Principal{StaffID: "op", Role: staff.Operator}
	adminView, err := svc.CreateStaff(ctx, op, accounts.NewStaff{CompanyID: "co-dyn", Name: "管理员", Phone: phone, Email: "a@example.com", Role: staff.Admin})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.SetPassword(ctx, token(), "admin-pass-1"); err != nil {
		t.Fatal(err)
	}
	login := func(openid string) accounts.LoginResult {
		res, err := svc.Login(ctx, accounts.LoginRequest{Phone: phone, Password: "admin-pass-1", IP: "127.0.0.1", OpenID: openid})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	first := login("")
	second := login("")
	if _, err := svc.Authenticate(ctx, first.SessionID); !errors.Is(err, accounts.ErrSqueezedOut) {
		t.Fatalf("first session: %v", err)
	}
	admin, err := svc.Authenticate(ctx, second.SessionID)
	if err != nil || admin.StaffID != adminView.ID {
		t.Fatalf("second session: %+v %v", admin, err)
	}
	ch := login("oDYN")
	if ch.SMSChallenge == "" {
		t.Fatal("no SMS step-up")
	}
	_, err = svc.VerifySMS(ctx, ch.SMSChallenge, box.sms[len(box.sms)-1].Params[0], "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Authenticate(ctx, second.SessionID); !errors.Is(err, accounts.ErrSqueezedOut) {
		t.Fatalf("second session after the SMS login: %v", err)
	}
	if login("oDYN").SessionID == "" {
		t.Fatal("the bound identity needs SMS again")
	}
	cashier, err := svc.CreateStaff(ctx, admin, accounts.NewStaff{CompanyID: "co-dyn", Name: "收银", Phone: "16" + phone[2:], Email: "c@example.com", Role: staff.Cashier})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.ResetPassword(ctx, admin, cashier.ID); err != nil {
		t.Fatal(err)
	}
	if err := svc.SetPassword(ctx, token(), "cashier-pass-1"); err != nil {
		t.Fatal(err)
	}
	cs, err := svc.Login(ctx, accounts.LoginRequest{Phone: cashier.Phone, Password: "cashier-pass-1", IP: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.DisableStaff(ctx, admin, cashier.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Authenticate(ctx, cs.SessionID); !errors.Is(err, accounts.ErrSessionExpired) {
		t.Fatalf("disabled cashier's session: %v", err)
	}
	list, err := svc.ListStaff(ctx, admin)
	if err != nil || len(list) != 2 || list[0].Name != "收银" || list[0].Status != "disabled" {
		t.Fatalf("staff %+v %v", list, err)
	}
	page, err := svc.Audit(ctx, admin, "", 100)
	acts := map[string]int{}
	for _, e := range page.Entries {
		acts[e.Action]++
	}
	if err != nil || acts["session.squeezed_out"] != 2 || acts["staff.disable"] != 1 || acts["staff.create"] != 2 || acts["staff.wechat_bound"] != 1 {
		t.Fatalf("audit %v %v", acts, err)
	}
}
