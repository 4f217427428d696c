// Package transition is the shape every aggregate's state machine takes: for
// each target state, the states it may be reached from. The aggregates
// (order, bill) declare their tables; the stores render From into their
// write conditions.
package transition

import "slices"

// Table lists, for each target state, the states it may be reached from.
type Table[S comparable] map[S][]S

// From returns the states from which to may be reached (nil: none).
func (t Table[S]) From(to S) []S { return slices.Clone(t[to]) }

// Allows reports whether from → to is in the table.
func (t Table[S]) Allows(from, to S) bool { return slices.Contains(t[to], from) }
