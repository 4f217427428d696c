package main

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// The console's view of shared/accounts (issue 7, "Go signatures"). The types
// mirror accounts.Principal, accounts.LoginRequest, … field for field; when
// shared/accounts and shared/domain/staff land they become aliases
// (type Principal = accounts.Principal, var ErrBadCredentials =
// accounts.ErrBadCredentials, type Role = staff.Role, …) and *accounts.Service
// satisfies Accounts as it is.

// Role is a staff member's role (staff.Role).
type Role string

const (
	RoleOperator    Role = "operator"
	RoleAdmin       Role = "admin"
	RoleCashier     Role = "cashier"
	RoleManager     Role = "manager"
	RoleRiskOfficer Role = "risk_officer"
)

// Principal is the signed-in staff member of a request.
type Principal struct {
	StaffID, CompanyID, Name, Phone string
	Role                            Role
	CSRF                            string // the session's CSRF token
}

// LoginRequest is a phone + password login.
type LoginRequest struct {
	Phone, Password, IP string
	OpenID              string // WeChat openid when logging in inside WeChat, else ""
}

// LoginResult is a started session, or an SMS challenge to answer first.
type LoginResult struct {
	SessionID    string // the ep_session cookie ("" when SMS is required)
	Principal    Principal
	SMSChallenge string // non-empty: a code was sent; call VerifySMS with it
}

// NewStaff is an account an admin creates.
type NewStaff struct {
	CompanyID, Name, Phone, Email string
	Role                          Role
}

// StaffView is an account as the console lists it.
type StaffView struct {
	ID, CompanyID, Name, Phone, Email, Status string
	Role                                      Role
	CreatedAt                                 time.Time
}

// AuditEntry is one audited action.
type AuditEntry struct {
	At                   time.Time
	ActorID              string
	ActorRole            Role
	Action               string
	TargetKind, TargetID string
	Before, After        json.RawMessage
}

// AuditPage is a page of the audit log, newest first.
type AuditPage struct {
	Entries []AuditEntry
	Next    string // cursor of the next page; "" at the end
}

// Errors of the accounts service; the console maps them to statuses and
// Chinese messages (errorInfo).
var (
	ErrBadCredentials = errors.New("手机号或密码错误")
	ErrLocked         = errors.New("登录失败次数过多，请稍后再试")
	ErrSqueezedOut    = errors.New("您的账号已在其他地方登录")
	ErrSessionExpired = errors.New("登录已过期，请重新登录")
	ErrForbidden      = errors.New("没有权限")
	ErrNotFound       = errors.New("not found")
	ErrBadCode        = errors.New("验证码错误或已过期")
)

// Accounts is what the console needs of shared/accounts (*accounts.Service).
type Accounts interface {
	Login(ctx context.Context, in LoginRequest) (LoginResult, error)
	VerifySMS(ctx context.Context, challenge, code, ip string) (LoginResult, error)
	Authenticate(ctx context.Context, sessionID string) (Principal, error)
	Logout(ctx context.Context, sessionID string) error
	CreateStaff(ctx context.Context, by Principal, in NewStaff) (StaffView, error)
	SetPassword(ctx context.Context, token, password string) error
	ResetPassword(ctx context.Context, by Principal, staffID string) error
	DisableStaff(ctx context.Context, by Principal, staffID string) error
	ListStaff(ctx context.Context, by Principal) ([]StaffView, error)
	Audit(ctx context.Context, by Principal, cursor string, limit int) (AuditPage, error)
	Record(ctx context.Context, by Principal, action, targetKind, targetID string, before, after any) error
}
