package pgtext

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// This file reads the compiled zone files of the IANA database (the TZif
// format of RFC 8536) and evaluates the POSIX TZ rule in a file's footer.
// It keeps what PostgreSQL's src/timezone/localtime.c keeps from a file:
// the transition times, the UTC offset and DST flag each transition
// switches to, and the rule that continues the table past its last entry.

// tzFile is the content of one TZif file that the arithmetic needs.
type tzFile struct {
	trans  []int64 // transition times, seconds since 1970-01-01 UTC, ascending
	types  []uint8 // types[i] is the local-time type in force from trans[i]
	offs   []int32 // UTC offset of each type, seconds east of UTC
	isDST  []bool  // DST flag of each type
	footer string  // POSIX TZ string for times after the last transition; may be empty
}

var errTZif = errors.New("malformed TZif data")

// parseTZif decodes a TZif file of version 1 to 4. For version 2 and later
// it reads the 64-bit data block and the footer, as PostgreSQL's tzload
// does. Files with leap-second records ("right/" zones) are rejected: the
// database Tally ships has none and PostgreSQL's timestamps ignore leap
// seconds.
func parseTZif(b []byte) (tzFile, error) {
	var f tzFile
	const headerLen = 44
	if len(b) < headerLen || string(b[:4]) != "TZif" {
		return f, errTZif
	}
	version := b[4]
	counts := func(h []byte) (isut, isstd, leap, time, typ, char int) {
		c := func(i int) int { return int(binary.BigEndian.Uint32(h[20+4*i:])) }
		return c(0), c(1), c(2), c(3), c(4), c(5)
	}
	isut, isstd, leap, timecnt, typecnt, charcnt := counts(b)
	timeSize := 4
	if version >= '2' {
		// Skip the 32-bit block and read the 64-bit one that follows.
		skip := headerLen + timecnt*5 + typecnt*6 + charcnt + leap*8 + isstd + isut
		if len(b) < skip+headerLen || string(b[skip:skip+4]) != "TZif" {
			return f, errTZif
		}
		b = b[skip:]
		isut, isstd, leap, timecnt, typecnt, charcnt = counts(b)
		timeSize = 8
	}
	if leap != 0 {
		return f, fmt.Errorf("%w: leap-second records are not supported", errTZif)
	}
	if typecnt == 0 || typecnt > 256 || timecnt > 1<<16 {
		return f, errTZif
	}
	need := headerLen + timecnt*(timeSize+1) + typecnt*6 + charcnt + isstd + isut
	if len(b) < need {
		return f, errTZif
	}
	p := b[headerLen:]
	f.trans = make([]int64, timecnt)
	for i := range f.trans {
		if timeSize == 8 {
			f.trans[i] = int64(binary.BigEndian.Uint64(p))
		} else {
			f.trans[i] = int64(int32(binary.BigEndian.Uint32(p)))
		}
		p = p[timeSize:]
		if i > 0 && f.trans[i] <= f.trans[i-1] {
			return f, errTZif
		}
	}
	f.types = make([]uint8, timecnt)
	for i := range f.types {
		f.types[i] = p[i]
		if int(p[i]) >= typecnt {
			return f, errTZif
		}
	}
	p = p[timecnt:]
	f.offs = make([]int32, typecnt)
	f.isDST = make([]bool, typecnt)
	for i := 0; i < typecnt; i++ {
		f.offs[i] = int32(binary.BigEndian.Uint32(p))
		if f.offs[i] <= -26*3600 || f.offs[i] >= 26*3600 {
			return f, errTZif
		}
		f.isDST[i] = p[4] != 0
		p = p[6:]
	}
	p = p[charcnt+isstd+isut:]
	if version >= '2' && len(p) >= 2 && p[0] == '\n' {
		for i := 1; i < len(p); i++ {
			if p[i] == '\n' {
				f.footer = string(p[1:i])
				break
			}
		}
	}
	return f, nil
}

// tzRule is a POSIX TZ string with daylight-saving rules, such as
// "EST5EDT,M3.2.0,M11.1.0", in the extended form zic writes (RFC 8536
// section 3.3.1): transition times may be negative or exceed 24 hours.
type tzRule struct {
	std, dst   int32    // UTC offsets, seconds east (the string has them west)
	start, end ruleDate // DST starts at start (local standard time) and ends at end (local daylight time)
}

// ruleDate is one date-and-time rule of a TZ string.
type ruleDate struct {
	kind byte  // 'J': Julian day 1-365 without Feb 29; 'D': zero-based day of year; 'M': month, week, weekday
	day  int   // J and D: the day; M: the weekday, 0 = Sunday
	week int   // M: 1-5, 5 meaning the last
	mon  int   // M: 1-12
	secs int32 // local time of day of the transition, in seconds
}

// parseTZRule reads a TZ string. It returns the zone's standard offset,
// and the daylight-saving rule if there is one (nil for a string such as
// "IST-5:30" that names a single offset).
func parseTZRule(s string) (std int32, rule *tzRule, err error) {
	p := tzStringParser{s: s}
	if !p.name() {
		return 0, nil, p.fail()
	}
	west, ok := p.offset(24)
	if !ok {
		return 0, nil, p.fail()
	}
	std = -west
	if p.i == len(p.s) {
		return std, nil, nil
	}
	if !p.name() {
		return 0, nil, p.fail()
	}
	r := &tzRule{std: std, dst: std + 3600}
	if p.i < len(p.s) && p.s[p.i] != ',' {
		west, ok := p.offset(24)
		if !ok {
			return 0, nil, p.fail()
		}
		r.dst = -west
	}
	if p.i == len(p.s) {
		// POSIX leaves the default rules to the implementation; this is
		// PostgreSQL's TZDEFRULESTRING. zic always writes the rules.
		p.s += ",M3.2.0,M11.1.0"
	}
	if !p.eat(',') || !p.date(&r.start) || !p.eat(',') || !p.date(&r.end) || p.i != len(p.s) {
		return 0, nil, p.fail()
	}
	return std, r, nil
}

type tzStringParser struct {
	s string
	i int
}

func (p *tzStringParser) fail() error {
	return fmt.Errorf("%w: bad TZ string %q", errTZif, p.s)
}

func (p *tzStringParser) eat(c byte) bool {
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

// name reads a zone abbreviation: three or more letters, or any text in
// angle brackets.
func (p *tzStringParser) name() bool {
	if p.eat('<') {
		for p.i < len(p.s) && p.s[p.i] != '>' {
			p.i++
		}
		return p.eat('>')
	}
	start := p.i
	for p.i < len(p.s) && isAlpha(p.s[p.i]) {
		p.i++
	}
	return p.i-start >= 3
}

// num reads a decimal number of at most max.
func (p *tzStringParser) num(max int) (int, bool) {
	start, v := p.i, 0
	for p.i < len(p.s) && isDigit(p.s[p.i]) {
		v = v*10 + int(p.s[p.i]-'0')
		if v > max {
			return 0, false
		}
		p.i++
	}
	return v, p.i > start
}

// offset reads [+-]hh[:mm[:ss]] with hours at most maxHours, in seconds.
func (p *tzStringParser) offset(maxHours int) (int32, bool) {
	neg := false
	if p.eat('-') {
		neg = true
	} else {
		p.eat('+')
	}
	h, ok := p.num(maxHours)
	if !ok {
		return 0, false
	}
	secs := h * 3600
	if p.eat(':') {
		m, ok := p.num(59)
		if !ok {
			return 0, false
		}
		secs += m * 60
		if p.eat(':') {
			s, ok := p.num(59)
			if !ok {
				return 0, false
			}
			secs += s
		}
	}
	if neg {
		secs = -secs
	}
	return int32(secs), true
}

func (p *tzStringParser) date(d *ruleDate) bool {
	var ok bool
	switch {
	case p.eat('J'):
		d.kind = 'J'
		d.day, ok = p.num(365)
		ok = ok && d.day >= 1
	case p.eat('M'):
		d.kind = 'M'
		if d.mon, ok = p.num(12); !ok || d.mon < 1 || !p.eat('.') {
			return false
		}
		if d.week, ok = p.num(5); !ok || d.week < 1 || !p.eat('.') {
			return false
		}
		d.day, ok = p.num(6)
	default:
		d.kind = 'D'
		d.day, ok = p.num(365)
	}
	if !ok {
		return false
	}
	d.secs = 2 * 3600
	if p.eat('/') {
		// RFC 8536 section 3.3.1: the hour may range from -167 to 167.
		d.secs, ok = p.offset(167)
	}
	return ok
}

// dayOfYear returns the zero-based day of year y on which d falls.
func (d ruleDate) dayOfYear(y int64) int64 {
	switch d.kind {
	case 'J':
		doy := int64(d.day - 1)
		if isLeap(y) && d.day >= 60 {
			doy++
		}
		return doy
	case 'D':
		return int64(d.day)
	}
	first := daysFromCivil(y, int64(d.mon), 1)
	// 1970-01-01 was a Thursday (weekday 4).
	wd := floorMod(first+4, 7)
	mday := 1 + floorMod(int64(d.day)-wd, 7) + int64(d.week-1)*7
	for mday > DaysInMonth(y, int64(d.mon)) {
		mday -= 7
	}
	return first + mday - 1 - daysFromCivil(y, 1, 1)
}

func floorMod(a, b int64) int64 { return a - floorDiv(a, b)*b }

// yearEvents returns the rule's transitions in year y, in UTC seconds and
// in time order, each with the offset it switches to. Like PostgreSQL's
// tzparse, a year whose daylight time would cover the whole year (or none
// of it) has no transitions, and n is 0.
func (r *tzRule) yearEvents(y int64) (at [2]int64, off [2]int32, n int) {
	jan1 := daysFromCivil(y, 1, 1) * 86400
	start := jan1 + r.start.dayOfYear(y)*86400 + int64(r.start.secs) - int64(r.std)
	end := jan1 + r.end.dayOfYear(y)*86400 + int64(r.end.secs) - int64(r.dst)
	yearSecs := int64(365 * 86400)
	if isLeap(y) {
		yearSecs += 86400
	}
	switch {
	case end < start: // southern hemisphere: daylight time spans the new year
		return [2]int64{end, start}, [2]int32{r.std, r.dst}, 2
	case start < end && end-start < yearSecs:
		return [2]int64{start, end}, [2]int32{r.dst, r.std}, 2
	}
	return at, off, 0
}

// next returns the first transition of the rule after t (UTC seconds),
// the offset in force just before it and the offset it switches to. ok is
// false when the rule has no transition within two years of t.
func (r *tzRule) next(t int64) (before int32, at int64, after int32, ok bool) {
	y, _, _ := civilFromDays(floorDiv(t, 86400))
	prevOff, havePrev := int32(0), false
	for yy := y - 1; yy <= y+2; yy++ {
		ats, offs, n := r.yearEvents(yy)
		for i := 0; i < n; i++ {
			if ats[i] > t {
				if !havePrev {
					// No transition at or before t was seen: the offset
					// before this one is the other of the two.
					prevOff = r.std
					if offs[i] == r.std {
						prevOff = r.dst
					}
				}
				return prevOff, ats[i], offs[i], true
			}
			prevOff, havePrev = offs[i], true
		}
	}
	return 0, 0, 0, false
}

// offsetAt returns the offset the rule gives instant t (UTC seconds).
func (r *tzRule) offsetAt(t int64) int32 {
	before, _, _, ok := r.next(t)
	if !ok {
		return r.std
	}
	return before
}
