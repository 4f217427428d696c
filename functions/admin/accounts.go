package main

import (
	"context"

	"github.com/estatepay/estatepay/shared/accounts"
	"github.com/estatepay/estatepay/shared/domain/staff"
)

// The console's view of shared/accounts: *accounts.Service satisfies Accounts;
// tests use an in-memory fake.

// The console speaks shared/accounts' types.
type (
	Role         = staff.Role
	Principal    = accounts.Principal
	LoginRequest = accounts.LoginRequest
	LoginResult  = accounts.LoginResult
	NewStaff     = accounts.NewStaff
	StaffView    = accounts.StaffView
	AuditEntry   = accounts.AuditEntry
	AuditPage    = accounts.AuditPage
)

const (
	RoleOperator    = staff.Operator
	RoleAdmin       = staff.Admin
	RoleCashier     = staff.Cashier
	RoleManager     = staff.Manager
	RoleRiskOfficer = staff.RiskOfficer
)

// Errors of the accounts service; the console maps them to statuses and
// Chinese messages (errorInfo).
var (
	ErrBadCredentials = accounts.ErrBadCredentials
	ErrLocked         = accounts.ErrLocked
	ErrSqueezedOut    = accounts.ErrSqueezedOut
	ErrSessionExpired = accounts.ErrSessionExpired
	ErrForbidden      = accounts.ErrForbidden
	ErrNotFound       = accounts.ErrNotFound
	ErrBadCode        = accounts.ErrBadCode
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
	EnableStaff(ctx context.Context, by Principal, staffID string) error
	ChangeRole(ctx context.Context, by Principal, staffID string, r Role) error
	ListStaff(ctx context.Context, by Principal) ([]StaffView, error)
	Audit(ctx context.Context, by Principal, cursor string, limit int) (AuditPage, error)
	Record(ctx context.Context, by Principal, action, targetKind, targetID string, before, after any) error
}
