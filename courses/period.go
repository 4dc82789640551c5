package courses

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Period is a span of the calendar as COURSES_FILE writes a certificate's
// validity and its reminders: a whole number and one unit, "12mo", "365d",
// "2y", "30d", or, to try the whole cycle in one sitting, "10m" or "40s".
// Months and years are calendar ones, so a certificate of 31 January valid
// for 1mo lapses on 3 March (time.AddDate's rule), and one valid for 1y
// lapses on the same date a year on.
type Period struct {
	n    int
	unit string
}

// periodUnits are the units a Period may have, with the length used to
// compare two periods (a month as 30 days, a year as 365).
var periodUnits = map[string]time.Duration{
	"s":  time.Second,
	"m":  time.Minute,
	"h":  time.Hour,
	"d":  24 * time.Hour,
	"w":  7 * 24 * time.Hour,
	"mo": 30 * 24 * time.Hour,
	"y":  365 * 24 * time.Hour,
}

// maxPeriod bounds a validity: beyond ten years a certificate may as well
// not expire, and the bound keeps every date far inside time.Time's range.
const maxPeriod = 10 * 365 * 24 * time.Hour

// ParsePeriod reads a Period. Its errors say what is accepted.
func ParsePeriod(s string) (Period, error) {
	digits := strings.TrimRightFunc(s, func(r rune) bool { return r < '0' || r > '9' })
	unit := s[len(digits):]
	n, err := strconv.Atoi(digits)
	if _, known := periodUnits[unit]; err != nil || !known || digits != strconv.Itoa(n) {
		return Period{}, fmt.Errorf("%q is not a period: want a whole number and one unit of s, m, h, d, w, mo or y (12mo, 365d, 2y, 10m)", s)
	}
	p := Period{n: n, unit: unit}
	switch {
	case n <= 0:
		return Period{}, fmt.Errorf("%q is not a period: it must be more than 0", s)
	case p.Approx() > maxPeriod:
		return Period{}, fmt.Errorf("%q is longer than ten years", s)
	}
	return p, nil
}

// MustPeriod is ParsePeriod for periods a caller already checked, such as
// those of a route that passed Load: it panics on a bad one.
func MustPeriod(s string) Period {
	p, err := ParsePeriod(s)
	if err != nil {
		panic(err)
	}
	return p
}

// String is the period as written.
func (p Period) String() string { return strconv.Itoa(p.n) + p.unit }

// IsZero reports whether p is the zero Period, which no text parses to.
func (p Period) IsZero() bool { return p.n == 0 }

// Approx is the period's nominal length, a month counted as 30 days and a
// year as 365: for comparing periods, never for dates.
func (p Period) Approx() time.Duration { return time.Duration(p.n) * periodUnits[p.unit] }

// After is t plus the period, in UTC.
func (p Period) After(t time.Time) time.Time { return p.add(t, 1) }

// Before is t minus the period, in UTC.
func (p Period) Before(t time.Time) time.Time { return p.add(t, -1) }

func (p Period) add(t time.Time, sign int) time.Time {
	t, n := t.UTC(), sign*p.n
	switch p.unit {
	case "mo":
		return t.AddDate(0, n, 0)
	case "y":
		return t.AddDate(n, 0, 0)
	case "d":
		return t.AddDate(0, 0, n)
	case "w":
		return t.AddDate(0, 0, 7*n)
	}
	return t.Add(time.Duration(n) * periodUnits[p.unit])
}
