package accounts

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/estatepay/estatepay/shared/domain/staff"
)

// entry is an audit entry of by's action (before/after as JSON).
func (s *Service) entry(by Principal, companyID, action, kind, id string, before, after any, now time.Time) AuditEntry {
	return AuditEntry{CompanyID: companyID, ID: newEntryID(), At: now, ActorID: by.StaffID, ActorName: by.Name, ActorRole: by.Role,
		Action: action, TargetKind: kind, TargetID: id, Before: toJSON(before), After: toJSON(after)}
}

func newEntryID() string { return newStaffID()[1:] }

func toJSON(v any) json.RawMessage {
	if v == nil {
		return json.RawMessage("null")
	}
	if raw, ok := v.(json.RawMessage); ok && json.Valid(raw) {
		return raw
	}
	b, err := json.Marshal(v)
	if err != nil {
		b, _ = json.Marshal(fmt.Sprintf("(%T not JSON: %v)", v, err))
	}
	return b
}

// Record appends an admin action to the caller's company's audit log (an
// operator's: the platform log). before and after are the changed thing as
// JSON values (never secrets: a fingerprint instead).
func (s *Service) Record(ctx context.Context, by Principal, action, targetKind, targetID string, before, after any) error {
	return s.RecordIn(ctx, by, by.CompanyID, action, targetKind, targetID, before, after)
}

// RecordIn appends an admin action to company companyID's log ("" the
// platform's): an operator acting on a company records it in that company's
// log, so the company sees it. Others can write only their own company's.
func (s *Service) RecordIn(ctx context.Context, by Principal, companyID, action, targetKind, targetID string, before, after any) error {
	if by.Role != staff.Operator && companyID != by.CompanyID {
		return ErrNotFound
	}
	return s.Repo.Apply(ctx, Change{Audit: []AuditEntry{s.entry(by, companyID, action, targetKind, targetID, before, after, s.now())}})
}

// Audit pages the caller's company's audit log, newest first (an operator:
// the platform log). limit is 1–100 (default 50).
func (s *Service) Audit(ctx context.Context, by Principal, cursor string, limit int) (AuditPage, error) {
	return s.AuditOf(ctx, by, by.CompanyID, cursor, limit)
}

// AuditOf pages company companyID's audit log ("" the platform's): operators
// any, admins their own (another company's: ErrNotFound).
func (s *Service) AuditOf(ctx context.Context, by Principal, companyID, cursor string, limit int) (AuditPage, error) {
	if err := Authorize(by, staff.AuditView, companyID, ""); err != nil {
		return AuditPage{}, err
	}
	if limit <= 0 || limit > 100 {
		limit = 50
	}
	entries, next, err := s.Repo.AuditPage(ctx, companyID, cursor, limit)
	if err != nil {
		return AuditPage{}, err
	}
	return AuditPage{Entries: entries, Next: next}, nil
}
