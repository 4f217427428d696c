// Package calendar is the product's one business calendar: Asia/Shanghai
// (UTC+8, no daylight saving since 1991, so a fixed zone needs no tzdata in
// the Lambda image). Business days, settlement dates and every time people
// read are in this zone.
package calendar

import "time"

// Shanghai is Asia/Shanghai.
var Shanghai = time.FixedZone("CST", 8*3600)

// DayLayout is how a business day is written: 2006-01-02.
const DayLayout = "2006-01-02"

// Day is a business day, e.g. "2026-11-29".
type Day string

// BusinessDay is the Asia/Shanghai date of t.
func BusinessDay(t time.Time) Day { return Day(t.In(Shanghai).Format(DayLayout)) }

// ParseDay parses "2006-01-02" as a business day.
func ParseDay(s string) (Day, error) {
	if _, err := time.ParseInLocation(DayLayout, s, Shanghai); err != nil {
		return "", err
	}
	return Day(s), nil
}

// Start is the first instant of the day (midnight Asia/Shanghai).
func (d Day) Start() time.Time {
	t, _ := time.ParseInLocation(DayLayout, string(d), Shanghai)
	return t
}

// Next is the following business day.
func (d Day) Next() Day { return BusinessDay(d.Start().Add(36 * time.Hour)) }

// Prev is the previous business day.
func (d Day) Prev() Day { return BusinessDay(d.Start().Add(-12 * time.Hour)) }

// Local is t in Asia/Shanghai.
func Local(t time.Time) time.Time { return t.In(Shanghai) }

// Format writes t for people and programs: ISO 8601 in Asia/Shanghai with its
// offset, e.g. 2026-11-29T10:00:05+08:00.
func Format(t time.Time) string { return t.In(Shanghai).Format(time.RFC3339) }

// FormatReadable writes t for a page: 2026-11-29 10:00:05.
func FormatReadable(t time.Time) string { return t.In(Shanghai).Format("2006-01-02 15:04:05") }
