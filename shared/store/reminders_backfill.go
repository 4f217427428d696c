package store

import (
	"context"
	"fmt"
)

// BackfillOverdue gives every owed bill of a company (companyID "": of every
// company) written before the BillsTable's sparse `overdue` index existed
// its attributes, community by community (Reminders.BackfillOverdue: the
// `community` index, conditional on each bill's version). It is the data
// migration of that index: `make backfill-overdue` runs it against a
// deployment, the local stack at every start on the state it restored.
// Running it again changes nothing. each (may be nil) hears every
// community's count.
func (s *Store) BackfillOverdue(ctx context.Context, companyID string, each func(company, community string, bills int)) (int, error) {
	companies := []string{companyID}
	if companyID == "" {
		cos, err := s.ListCompanies(ctx)
		if err != nil {
			return 0, err
		}
		companies = companies[:0]
		for _, c := range cos {
			companies = append(companies, c.ID)
		}
	}
	total := 0
	for _, co := range companies {
		cms, err := s.ListCommunities(ctx, co)
		if err != nil {
			return total, err
		}
		for _, cm := range cms {
			n, err := s.ReminderRepo().BackfillOverdue(ctx, co, cm.ID)
			if err != nil {
				return total, fmt.Errorf("%s/%s: %w", co, cm.ID, err)
			}
			if each != nil {
				each(co, cm.ID, n)
			}
			total += n
		}
	}
	return total, nil
}
