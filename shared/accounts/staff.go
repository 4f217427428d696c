package accounts

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"html"
	"net/url"
	"strings"

	"github.com/estatepay/estatepay/shared/auth"
	"github.com/estatepay/estatepay/shared/domain/staff"
	"github.com/estatepay/estatepay/shared/notify"
)

var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// newStaffID is a staff id: "S" + 16 base32 characters (80 random bits).
func newStaffID() string {
	b := make([]byte, 10)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return "S" + idEncoding.EncodeToString(b)
}

// CreateStaff creates a pending account and e-mails its owner a one-time
// link to set the password (24 h); no password is ever sent. Admins create
// the roles of their own company; operators create operators and any
// company's admins (the first one, or a new one). A phone already in use is
// ErrPhoneTaken. When only the e-mail failed the account exists and the
// error is ErrEmailNotSent (ResetPassword sends a new link).
func (s *Service) CreateStaff(ctx context.Context, by Principal, in NewStaff) (StaffView, error) {
	if !staff.MayCreate(by.Role, in.Role) {
		return StaffView{}, ErrForbidden
	}
	if err := Authorize(by, staff.StaffManage, in.CompanyID, ""); err != nil {
		return StaffView{}, err
	}
	return s.create(ctx, by, in, false)
}

// BootstrapOperator creates the first operator of a deployment, once: when
// an operator was bootstrapped already it is ErrOperatorExists and nothing
// is written. The set-password link goes to in.Email.
func (s *Service) BootstrapOperator(ctx context.Context, in NewStaff) (StaffView, error) {
	in.Role, in.CompanyID = staff.Operator, ""
	return s.create(ctx, Principal{Name: "bootstrap"}, in, true)
}

func (s *Service) create(ctx context.Context, by Principal, in NewStaff, bootstrap bool) (StaffView, error) {
	now := s.now()
	company := ""
	if in.CompanyID != "" && s.Companies != nil {
		name, err := s.Companies.CompanyName(ctx, in.CompanyID)
		if errors.Is(err, ErrNotFound) {
			return StaffView{}, ErrNotFound
		} else if err != nil {
			return StaffView{}, err
		}
		company = name
	}
	st, err := staff.New(staff.Staff{ID: newStaffID(), CompanyID: in.CompanyID, Name: in.Name, Phone: strings.TrimSpace(in.Phone),
		Email: in.Email, Role: in.Role}, now)
	if err != nil {
		return StaffView{}, err
	}
	token := auth.NewID()
	_ = st.IssuePasswordLink(auth.HashID(token))
	link := PasswordLink{Hash: auth.HashID(token), StaffID: st.ID, ExpiresAt: now.Add(auth.PasswordLinkTTL)}
	v := view(st)
	err = s.Repo.Apply(ctx, Change{Staff: &st, Bootstrap: bootstrap, PutLink: &link,
		Audit: []AuditEntry{s.entry(by, st.CompanyID, "staff.create", "staff", st.ID, nil, v, now)}})
	if err != nil {
		return StaffView{}, err
	}
	return v, s.sendLink(ctx, st, company, token, false)
}

// SetPassword sets an account's password through a link token: once, within
// 24 hours, and only the latest link of the account. The account becomes
// active, its session (if any) ends and its failed-login count is cleared.
func (s *Service) SetPassword(ctx context.Context, token, password string) error {
	if err := auth.CheckPasswordPolicy(password); err != nil {
		return &InvalidError{Msg: err.Error()}
	}
	now := s.now()
	hash := auth.HashID(token)
	link, err := s.Repo.GetPasswordLink(ctx, hash)
	if errors.Is(err, ErrNotFound) || (err == nil && !now.Before(link.ExpiresAt)) || token == "" {
		return ErrBadToken
	} else if err != nil {
		return err
	}
	pw, err := auth.HashPassword(password)
	if err != nil {
		return err
	}
	for attempt := 0; attempt < 3; attempt++ {
		st, err := s.Repo.GetStaff(ctx, link.StaffID)
		if errors.Is(err, ErrNotFound) {
			return ErrBadToken
		} else if err != nil {
			return err
		}
		next := st
		ended, err := next.SetPassword(hash, pw)
		if err != nil {
			return ErrBadToken
		}
		self := Principal{StaffID: st.ID, CompanyID: st.CompanyID, Name: st.Name, Role: st.Role}
		c := Change{Staff: &next, PrevVersion: st.Version, DeleteLinks: []string{hash}, ClearThrottles: []string{phoneKey(st.Phone)},
			Audit: []AuditEntry{s.entry(self, st.CompanyID, "staff.password_set", "staff", st.ID,
				map[string]string{"status": string(st.Status)}, map[string]string{"status": string(next.Status)}, now)}}
		if ended != "" {
			c.EndSessions = []string{ended}
		}
		err = s.Repo.Apply(ctx, c)
		if !errors.Is(err, ErrConflict) {
			return err
		}
	}
	return ErrConflict
}

// target loads an account by manages (action a) checks by may act on it.
func (s *Service) target(ctx context.Context, by Principal, a staff.Action, staffID string) (staff.Staff, error) {
	if !staff.Can(by.Role, a) {
		return staff.Staff{}, ErrForbidden
	}
	st, err := s.Repo.GetStaff(ctx, staffID)
	if errors.Is(err, ErrNotFound) {
		return st, ErrNotFound
	} else if err != nil {
		return st, err
	}
	return st, Authorize(by, a, st.CompanyID, "")
}

// ResetPassword e-mails an account a new set-password link (the previous
// link stops working). The password stays valid until the link is used.
func (s *Service) ResetPassword(ctx context.Context, by Principal, staffID string) error {
	now := s.now()
	for attempt := 0; attempt < 3; attempt++ {
		st, err := s.target(ctx, by, staff.StaffManage, staffID)
		if err != nil {
			return err
		}
		token := auth.NewID()
		next := st
		if err := next.IssuePasswordLink(auth.HashID(token)); err != nil {
			return &InvalidError{Msg: "账号已停用"}
		}
		link := PasswordLink{Hash: auth.HashID(token), StaffID: st.ID, ExpiresAt: now.Add(auth.PasswordLinkTTL)}
		c := Change{Staff: &next, PrevVersion: st.Version, PutLink: &link,
			Audit: []AuditEntry{s.entry(by, st.CompanyID, "staff.reset_password", "staff", st.ID, nil, map[string]string{"link_sent_to": st.Email}, now)}}
		if st.PasswordLink != "" {
			c.DeleteLinks = []string{st.PasswordLink}
		}
		err = s.Repo.Apply(ctx, c)
		if errors.Is(err, ErrConflict) {
			continue
		} else if err != nil {
			return err
		}
		company := ""
		if st.CompanyID != "" && s.Companies != nil {
			company, _ = s.Companies.CompanyName(ctx, st.CompanyID)
		}
		return s.sendLink(ctx, next, company, token, true)
	}
	return ErrConflict
}

// DisableStaff disables an account: its session ends at once, its link
// stops working, it cannot log in. Disabling oneself is refused (a company
// must not lock its last admin out by accident); disabling a disabled
// account changes nothing.
func (s *Service) DisableStaff(ctx context.Context, by Principal, staffID string) error {
	now := s.now()
	for attempt := 0; attempt < 3; attempt++ {
		st, err := s.target(ctx, by, staff.StaffManage, staffID)
		if err != nil {
			return err
		}
		if st.ID == by.StaffID {
			return &InvalidError{Msg: "不能停用自己的账号"}
		}
		next := st
		ended, err := next.Disable()
		if errors.Is(err, staff.ErrNoChange) {
			return nil
		}
		c := Change{Staff: &next, PrevVersion: st.Version,
			Audit: []AuditEntry{s.entry(by, st.CompanyID, "staff.disable", "staff", st.ID, view(st), view(next), now)}}
		if ended != "" {
			c.EndSessions = []string{ended}
		}
		if st.PasswordLink != "" {
			c.DeleteLinks = []string{st.PasswordLink}
		}
		err = s.Repo.Apply(ctx, c)
		if !errors.Is(err, ErrConflict) {
			return err
		}
	}
	return ErrConflict
}

// EnableStaff lets a disabled account log in again (with its password, or
// through a new set-password link when it never set one). Enabling an
// enabled account changes nothing.
func (s *Service) EnableStaff(ctx context.Context, by Principal, staffID string) error {
	now := s.now()
	for attempt := 0; attempt < 3; attempt++ {
		st, err := s.target(ctx, by, staff.StaffManage, staffID)
		if err != nil {
			return err
		}
		next := st
		if err := next.Enable(); errors.Is(err, staff.ErrNoChange) {
			return nil
		}
		err = s.Repo.Apply(ctx, Change{Staff: &next, PrevVersion: st.Version,
			Audit: []AuditEntry{s.entry(by, st.CompanyID, "staff.enable", "staff", st.ID, view(st), view(next), now)}})
		if !errors.Is(err, ErrConflict) {
			return err
		}
	}
	return ErrConflict
}

// ChangeRole gives an account of the caller's company another role, one the
// caller may create (staff.MayCreate); its session ends, so the new
// permissions apply from its next login. Changing one's own role is refused
// (a company must not lose its last admin by accident).
func (s *Service) ChangeRole(ctx context.Context, by Principal, staffID string, r staff.Role) error {
	now := s.now()
	for attempt := 0; attempt < 3; attempt++ {
		st, err := s.target(ctx, by, staff.StaffManage, staffID)
		if err != nil {
			return err
		}
		switch {
		case st.ID == by.StaffID:
			return &InvalidError{Msg: "不能修改自己的角色"}
		case r == staff.Operator || !staff.MayCreate(by.Role, r):
			return &InvalidError{Msg: "请选择有效的角色"}
		}
		next := st
		ended, err := next.ChangeRole(r)
		if errors.Is(err, staff.ErrNoChange) {
			return nil
		}
		var inv *staff.InvalidError
		if errors.As(err, &inv) {
			return &InvalidError{Msg: inv.Msg}
		} else if err != nil {
			return err
		}
		c := Change{Staff: &next, PrevVersion: st.Version,
			Audit: []AuditEntry{s.entry(by, st.CompanyID, "staff.role", "staff", st.ID, view(st), view(next), now)}}
		if ended != "" {
			c.EndSessions = []string{ended}
		}
		err = s.Repo.Apply(ctx, c)
		if !errors.Is(err, ErrConflict) {
			return err
		}
	}
	return ErrConflict
}

// ListStaff lists the caller's company's accounts by name (an operator: the
// operators).
func (s *Service) ListStaff(ctx context.Context, by Principal) ([]StaffView, error) {
	return s.ListCompanyStaff(ctx, by, by.CompanyID)
}

// ListCompanyStaff lists a company's accounts by name ("" the operators):
// operators any company's, admins their own (another company: ErrNotFound).
func (s *Service) ListCompanyStaff(ctx context.Context, by Principal, companyID string) ([]StaffView, error) {
	if err := Authorize(by, staff.StaffView, companyID, ""); err != nil {
		return nil, err
	}
	list, err := s.Repo.ListStaff(ctx, companyID)
	if err != nil {
		return nil, err
	}
	out := make([]StaffView, 0, len(list))
	for _, st := range list {
		out = append(out, view(st))
	}
	return out, nil
}

// sendLink e-mails a set-password link.
func (s *Service) sendLink(ctx context.Context, st staff.Staff, company, token string, reset bool) error {
	link := strings.TrimRight(s.PublicBaseURL, "/") + "/admin/set-password?token=" + url.QueryEscape(token)
	login := strings.TrimRight(s.PublicBaseURL, "/") + "/admin/login"
	who := "小区收款码平台"
	if company != "" {
		who = company
	}
	subject := "【小区收款码】请设置您的登录密码"
	intro := fmt.Sprintf("%s为您开通了小区收款码管理后台账号。", who)
	if reset {
		subject = "【小区收款码】重置登录密码"
		intro = "管理员为您的小区收款码管理后台账号发送了新的密码设置链接（之前的链接已失效）。"
	}
	text := fmt.Sprintf("%s，您好：\n\n%s\n\n登录手机号：%s\n角色：%s\n\n请在 24 小时内打开以下链接设置登录密码（链接只能使用一次）：\n%s\n\n设置后请在 %s 用手机号和密码登录。\n如非本人相关，请忽略本邮件。\n",
		st.Name, intro, st.Phone, st.Role.Label(), link, login)
	e := html.EscapeString
	body := fmt.Sprintf(`<p>%s，您好：</p><p>%s</p><p>登录手机号：%s<br>角色：%s</p>`+
		`<p>请在 24 小时内打开以下链接设置登录密码（链接只能使用一次）：<br><a href="%s">设置登录密码</a></p>`+
		`<p>设置后请在 <a href="%s">%s</a> 用手机号和密码登录。<br>如非本人相关，请忽略本邮件。</p>`,
		e(st.Name), e(intro), e(st.Phone), e(st.Role.Label()), e(link), e(login), e(login))
	if err := s.Email.SendEmail(ctx, notify.EmailMessage{To: st.Email, Subject: subject, Text: text, HTML: body}); err != nil {
		s.log().Error("set-password e-mail not sent", "staff_id", st.ID, "err", err)
		return ErrEmailNotSent
	}
	return nil
}
