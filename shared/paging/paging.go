// Package paging is the shape of one page of a listing: its items and the
// opaque cursor of the next page ("" at the end). Repositories return it,
// the application passes it on, and the console turns Next into a link.
package paging

// Page is one page of a listing.
type Page[T any] struct {
	Items []T
	Next  string
}
