package policy

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml/ast"
)

// timeCond holds when Now, on the policy's wall clock (its timezone, with
// daylight saving), is within every listed part:
//
//	when:
//	  time:
//	    weekdays: [mon, tue, wed, thu, fri]   # or full names; any case
//	    hours: "22:00-06:00"                  # end exclusive; may span midnight; end may be 24:00
//	    dates: [{from: 2026-12-28, to: 2027-01-03}, 2027-02-11]   # inclusive
//	    except_dates: [2026-11-23]             # holidays
//
// When hours span midnight, the hours after midnight belong to the day the
// window began: with weekdays [fri] and hours 22:00-06:00, Saturday 02:00
// matches and Monday 02:00 does not. Dates and except_dates follow the same
// day.
type timeCond struct {
	weekdays   uint8 // bit 1<<time.Weekday; 0 = every day
	wdText     string
	hours      bool
	start, end int // minutes after midnight; start > end spans midnight
	hoursText  string
	dates      []dayRange
	except     []int // day keys
}

// A day key is year*10000 + month*100 + day, so keys compare like dates.
type dayRange struct{ from, to int }

// localClock is Now on the policy's wall clock, computed once per Decide.
type localClock struct {
	minute     int
	day, prev  int // today and yesterday as day keys
	wd, prevWd time.Weekday
}

func (e *env) localClock() *localClock {
	if !e.clockDone {
		e.clockDone = true
		t := e.in.Now.In(e.loc)
		y, m, d := t.Date()
		py, pm, pd := time.Date(y, m, d-1, 12, 0, 0, 0, time.UTC).Date()
		e.clock = localClock{
			minute: t.Hour()*60 + t.Minute(),
			day:    y*10000 + int(m)*100 + d, prev: py*10000 + int(pm)*100 + pd,
			wd: t.Weekday(), prevWd: (t.Weekday() + 6) % 7,
		}
	}
	return &e.clock
}

const (
	timeOK = iota
	failHours
	failWeekday
	failDates
	failExcept
)

// eval returns which part failed (timeOK if none), the day the window is
// attributed to, and whether that is the previous calendar day.
func (c *timeCond) eval(e *env) (fail, day int, wd time.Weekday, shifted bool) {
	lc := e.localClock()
	day, wd = lc.day, lc.wd
	if c.hours {
		m := lc.minute
		switch {
		case c.start < c.end:
			if m < c.start || m >= c.end {
				return failHours, day, wd, false
			}
		case m < c.end:
			day, wd, shifted = lc.prev, lc.prevWd, true
		case m < c.start:
			return failHours, day, wd, false
		}
	}
	if c.weekdays != 0 && c.weekdays&(1<<wd) == 0 {
		return failWeekday, day, wd, shifted
	}
	if c.dates != nil && !slices.ContainsFunc(c.dates, func(r dayRange) bool { return r.from <= day && day <= r.to }) {
		return failDates, day, wd, shifted
	}
	if slices.Contains(c.except, day) {
		return failExcept, day, wd, shifted
	}
	return timeOK, day, wd, shifted
}

func (c *timeCond) ok(e *env) bool {
	f, _, _, _ := c.eval(e)
	return f == timeOK
}

func (c *timeCond) why(b []byte, e *env) []byte {
	f, day, wd, shifted := c.eval(e)
	b = append(b, "time: "...)
	switch f {
	case failHours:
		m := e.localClock().minute
		b = appendTwo(append(appendTwo(b, m/60), ':'), m%60)
		b = append(b, ' ')
		b = append(b, e.loc.String()...)
		b = append(b, " not within "...)
		b = append(b, c.hoursText...)
	case failWeekday:
		if shifted {
			b = append(b, "window began "...)
		}
		b = append(b, strings.ToLower(wd.String()[:3])...)
		b = append(b, " not in "...)
		b = append(b, c.wdText...)
	case failDates:
		b = appendDay(b, day)
		b = append(b, " not in dates"...)
	case failExcept:
		b = appendDay(b, day)
		b = append(b, " is in except_dates"...)
	}
	return b
}

// appendDay appends a day key as YYYY-MM-DD.
func appendDay(b []byte, key int) []byte {
	b = appendTwo(appendTwo(b, key/1000000), key/10000%100)
	b = appendTwo(append(b, '-'), key/100%100)
	return appendTwo(append(b, '-'), key%100)
}

// appendTwo appends v (0-99) as two digits.
func appendTwo(b []byte, v int) []byte {
	return append(b, byte('0'+v/10), byte('0'+v%10))
}

func (d *decoder) timeCond(n ast.Node) (cond, bool) {
	fs, ok := d.fields(n, "time", []string{"weekdays", "hours", "dates", "except_dates"})
	c := &timeCond{}
	for _, f := range fs {
		var good bool
		switch f.key {
		case "weekdays":
			good = d.weekdays(f.value, c)
		case "hours":
			good = d.hours(f.value, c)
		case "dates":
			good = d.dates(f.value, c)
		case "except_dates":
			var items []item
			items, good = d.list(f.value, "except_dates")
			for _, it := range items {
				k, dayOK := d.day(it.n, "except_dates")
				c.except, good = append(c.except, k), good && dayOK
			}
		}
		ok = ok && good
	}
	if ok && len(fs) == 0 {
		d.problem(n, "add weekdays, hours, dates or except_dates", "time is empty")
		ok = false
	}
	return c, ok
}

func (d *decoder) weekdays(n ast.Node, c *timeCond) bool {
	items, ok := d.list(n, "weekdays")
	known := []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}
	for _, it := range items {
		s, i := strings.ToLower(it.s), -1
		for wd := range time.Weekday(7) {
			if full := strings.ToLower(wd.String()); s == full || s == full[:3] {
				i = int(wd)
			}
		}
		if i < 0 {
			d.problem(it.n, suggest(it.s, known, "weekdays"), "unknown weekday %q", it.s)
			ok = false
			continue
		}
		c.weekdays |= 1 << i
	}
	c.wdText = listText(items)
	return ok
}

func (d *decoder) hours(n ast.Node, c *timeCond) bool {
	s, ok := d.str(n, "hours")
	if !ok {
		return false
	}
	const hint = `write "HH:MM-HH:MM", e.g. "08:00-18:00"; a range may span midnight ("22:00-06:00")`
	from, to, found := strings.Cut(s, "-")
	if !found {
		d.problem(n, hint, "hours %q: missing '-' between start and end", s)
		return false
	}
	start, okStart := clockMinutes(strings.TrimSpace(from), false)
	end, okEnd := clockMinutes(strings.TrimSpace(to), true)
	switch {
	case !okStart:
		d.problem(n, hint, "hours %q: invalid start time %q", s, strings.TrimSpace(from))
	case !okEnd:
		d.problem(n, hint, "hours %q: invalid end time %q", s, strings.TrimSpace(to))
	case start == end:
		d.problem(n, `for the whole day, leave hours out or write "00:00-24:00"`, "hours %q: start equals end", s)
	default:
		c.hours, c.start, c.end, c.hoursText = true, start, end, s
		return true
	}
	return false
}

// clockMinutes parses "H:MM" or "HH:MM" (and "24:00" as an end) into minutes.
func clockMinutes(s string, isEnd bool) (int, bool) {
	hh, mm, found := strings.Cut(s, ":")
	if !found || len(hh) < 1 || len(hh) > 2 || len(mm) != 2 {
		return 0, false
	}
	h, err1 := strconv.Atoi(hh)
	m, err2 := strconv.Atoi(mm)
	if err1 != nil || err2 != nil || h < 0 || m < 0 || m > 59 || hh[0] == '+' || mm[0] == '+' {
		return 0, false
	}
	if h == 24 && m == 0 && isEnd {
		return 24 * 60, true
	}
	return h*60 + m, h <= 23
}

func (d *decoder) dates(n ast.Node, c *timeCond) bool {
	items, ok := d.seq(n, "dates")
	for _, it := range items {
		if _, isScalar := scalar(it); isScalar {
			k, good := d.day(it, "dates")
			c.dates, ok = append(c.dates, dayRange{k, k}), ok && good
			continue
		}
		fs, good := d.fields(it, "dates entry", []string{"from", "to"})
		var r dayRange
		var have int
		for _, f := range fs {
			k, dayOK := d.day(f.value, "dates."+f.key)
			good, have = good && dayOK, have+1
			if f.key == "from" {
				r.from = k
			} else {
				r.to = k
			}
		}
		switch {
		case good && have < 2:
			d.problem(it, "write {from: 2026-12-28, to: 2027-01-03}, or a single date", "date range needs both from and to")
			good = false
		case good && r.from > r.to:
			d.problem(it, "swap from and to", "date range ends before it starts")
			good = false
		}
		c.dates, ok = append(c.dates, r), ok && good
	}
	return ok
}

// day parses a YYYY-MM-DD date into a day key.
func (d *decoder) day(n ast.Node, what string) (int, bool) {
	s, ok := d.str(n, what)
	if !ok {
		return 0, false
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		d.problem(n, "write dates as YYYY-MM-DD, e.g. 2026-11-23", "%s: invalid date %q", what, s)
		return 0, false
	}
	return t.Year()*10000 + int(t.Month())*100 + t.Day(), true
}
