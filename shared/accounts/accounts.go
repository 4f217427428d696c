// Package accounts is the application layer of staff accounts and sessions:
// login (password, throttles, the SMS step-up for a new WeChat identity),
// server-side sessions (one per account: a new login squeezes the older one
// out), registration by admins through one-time set-password links, disabling,
// listings scoped to the caller's company, and the audit log. It depends on
// ports: Repository (the AccessTable), notify.SMS, notify.Email, Companies.
package accounts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/estatepay/estatepay/shared/auth"
	"github.com/estatepay/estatepay/shared/domain/staff"
	"github.com/estatepay/estatepay/shared/notify"
)

// Principal is who a session belongs to.
type Principal struct {
	StaffID, CompanyID, Name, Phone string
	Role                            staff.Role
	CSRF                            string // the session's CSRF token
}

// LoginRequest is a login attempt.
type LoginRequest struct {
	Phone, Password, IP string
	OpenID              string // WeChat openid when logging in inside WeChat (snsapi_base), else ""
}

// LoginResult is a started session, or an SMS challenge to answer first.
type LoginResult struct {
	SessionID    string // set as the ep_session cookie ("" when SMS is required)
	Principal    Principal
	SMSChallenge string // non-empty: a code was sent; call VerifySMS with it
}

// NewStaff is an account to create.
type NewStaff struct {
	CompanyID, Name, Phone, Email string
	Role                          staff.Role
}

// StaffView is an account as the console shows it (no secrets).
type StaffView struct {
	ID, CompanyID, Name, Phone, Email, Status string
	Role                                      staff.Role
	CreatedAt                                 time.Time
}

// AuditEntry is one line of an audit log.
type AuditEntry struct {
	CompanyID  string // whose log ("" the platform's)
	ID         string
	At         time.Time
	ActorID    string
	ActorName  string
	ActorRole  staff.Role
	Action     string // e.g. "staff.create", "community.update", "session.squeezed_out"
	TargetKind string // e.g. "staff", "community"
	TargetID   string
	Before     json.RawMessage // JSON, null when there was nothing
	After      json.RawMessage
}

// AuditPage is a page of a log, newest first.
type AuditPage struct {
	Entries []AuditEntry
	Next    string // cursor of the next page ("" at the end)
}

// Errors of the service. Describe maps them to HTTP.
var (
	ErrBadCredentials = errors.New("手机号或密码错误")
	ErrLocked         = errors.New("登录失败次数过多，请稍后再试")
	ErrSqueezedOut    = errors.New("您的账号已在其他地方登录")
	ErrSessionExpired = errors.New("登录已过期，请重新登录")
	ErrForbidden      = errors.New("没有权限")
	ErrNotFound       = errors.New("未找到")
	ErrBadCode        = errors.New("验证码错误或已过期")
	ErrPhoneTaken     = errors.New("该手机号已被使用")
	ErrBadToken       = errors.New("链接无效或已过期，请联系管理员重新发送")
	ErrSMSRateLimited = errors.New("验证码发送过于频繁，请稍后再试")
	ErrSMSNotSent     = errors.New("短信发送失败，请稍后再试")
	// ErrEmailNotSent: the account was created (or the link issued), but the
	// e-mail with the link could not be sent; ResetPassword sends a new one.
	ErrEmailNotSent = errors.New("账号已保存，但邮件发送失败，请稍后重新发送设置密码链接")
)

// WaitError is ErrLocked or ErrSMSRateLimited with how long to wait.
type WaitError struct {
	Err  error
	Wait time.Duration
}

func (e *WaitError) Error() string { return e.Message() }
func (e *WaitError) Unwrap() error { return e.Err }

// Message is the people-facing text ("请 15 分钟后再试").
func (e *WaitError) Message() string {
	if errors.Is(e.Err, ErrSMSRateLimited) {
		return fmt.Sprintf("验证码发送过于频繁，请 %d 秒后再试", int64((e.Wait+time.Second-1)/time.Second))
	}
	return "登录失败次数过多，请 " + auth.Minutes(e.Wait) + " 分钟后再试"
}

// InvalidError is input a person must correct (400 invalid); Msg is Chinese.
type InvalidError = staff.InvalidError

// Describe maps an error of the service to the HTTP status, the JSON error
// code and the people-facing message of {"error":{"code","message"}}. Any
// other error is 500 internal.
func Describe(err error) (status int, code, message string) {
	var w *WaitError
	var inv *InvalidError
	switch {
	case errors.As(err, &w) && errors.Is(err, ErrLocked):
		return http.StatusTooManyRequests, "locked", w.Message()
	case errors.As(err, &w):
		return http.StatusTooManyRequests, "sms_rate_limited", w.Message()
	case errors.As(err, &inv):
		return http.StatusBadRequest, "invalid", inv.Msg
	}
	for _, m := range []struct {
		err    error
		status int
		code   string
	}{
		{ErrBadCredentials, http.StatusUnauthorized, "bad_credentials"},
		{ErrLocked, http.StatusTooManyRequests, "locked"},
		{ErrSqueezedOut, http.StatusUnauthorized, "squeezed_out"},
		{ErrSessionExpired, http.StatusUnauthorized, "session_expired"},
		{ErrForbidden, http.StatusForbidden, "forbidden"},
		{ErrNotFound, http.StatusNotFound, "not_found"},
		{ErrBadCode, http.StatusBadRequest, "bad_code"},
		{ErrPhoneTaken, http.StatusConflict, "phone_taken"},
		{ErrBadToken, http.StatusBadRequest, "bad_token"},
		{ErrSMSRateLimited, http.StatusTooManyRequests, "sms_rate_limited"},
		{ErrSMSNotSent, http.StatusBadGateway, "sms_failed"},
		{ErrEmailNotSent, http.StatusBadGateway, "email_failed"},
		{ErrBindExpired, http.StatusGone, "bind_link_expired"},
		{ErrBindUsed, http.StatusConflict, "bind_link_used"},
	} {
		if errors.Is(err, m.err) {
			return m.status, m.code, m.err.Error()
		}
	}
	return http.StatusInternalServerError, "internal", "系统繁忙，请稍后再试"
}

// Companies names property companies (the directory); ErrNotFound when a
// company does not exist.
type Companies interface {
	CompanyName(ctx context.Context, id string) (string, error)
}

// Service is the application service.
type Service struct {
	Repo      Repository
	SMS       notify.SMS
	Email     notify.Email
	Companies Companies // nil: company ids are not checked
	Log       *slog.Logger
	Now       func() time.Time

	// PublicBaseURL is where the console is served (links in e-mails).
	PublicBaseURL string
	// SMSTemplateID is the provider's approved template of the login code,
	// with one parameter, {1} the code (the text states its 5 minutes).
	SMSTemplateID string
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

func (s *Service) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}

func view(st staff.Staff) StaffView {
	return StaffView{ID: st.ID, CompanyID: st.CompanyID, Name: st.Name, Phone: st.Phone, Email: st.Email,
		Status: string(st.Status), Role: st.Role, CreatedAt: st.CreatedAt}
}

// Authorize checks that by may do action a on something of company
// companyID ("" the platform) owned by ownerID ("" when it has no owner):
// ErrForbidden when the role may not do a at all, ErrNotFound when it may,
// but not there (another company's resource is not found, never forbidden).
func Authorize(by Principal, a staff.Action, companyID, ownerID string) error {
	switch staff.ScopeOf(by.Role, a) {
	case staff.Platform:
		return nil
	case staff.Company:
		if by.CompanyID != "" && companyID == by.CompanyID {
			return nil
		}
		return ErrNotFound
	case staff.Own:
		if by.CompanyID != "" && companyID == by.CompanyID && ownerID != "" && ownerID == by.StaffID {
			return nil
		}
		return ErrNotFound
	}
	return ErrForbidden
}
