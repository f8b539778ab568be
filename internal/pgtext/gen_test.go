package pgtext

import (
	"fmt"
	"math/rand"
	"strings"
)

// Seeds: the forms of SPEC section 3 and known corner cases. They start the
// differential tests and the fuzz corpus.
var intervalSeeds = []string{
	"1 day", "2 days", "1 week", "3 hours", "15 minutes", "90 secs", "1 mon", "1 month",
	"1 year 2 months", "1 day 02:00:00", "02:30", "@ 1 day", "P1D", "PT15M", "P1Y2M3DT4H5M6S",
	"1 d", "1 h", "1 m", "1 s", "1 w", "1 y", "1.5 hours", "1 day ago", "-1 day", "1:", "02:30.5",
	"1.5 years", "1.5 mon", "1.5 weeks", "P1.5Y", "P0001-02-03T04:05:06", "P00010203T040506",
	"PT040506", "10", "1 2 hours", "-1.5", "1day,2hours", "1 week 1 day", "1 hour 02:00", "1 quarter",
	"200-10", "+1-2", "1 day -02:00", "1 day - 2 hours", "P", "PT", "P1DT", "P1W2D", "P-1Y", "ago 1 day",
	"", " ", "day", "1 ago", "1.5 s 3 ms", "2147483647 days", "2147483648 days", "178956970 years",
	"178956971 years", "9223372036854775807 us", "1 microseconds", "1 millisecondsfoo", "0.0000005 s",
	"0.0000015 s", "1e3 seconds", "P1e3D", "1 day 2", "1 2", "01:02:03.123456789", "24:00:00",
	// Fields that fill PostgreSQL's 256-byte work buffer before a sign,
	// a colon or a point (the fuzzer's panic of issue 9's campaign).
	"0." + strings.Repeat("0", 252) + "+0", strings.Repeat("1", 254) + ":1", strings.Repeat("1", 253) + " .5",
}

var timestampSeeds = []string{
	"2024-01-08", "2024-01-08 10:00", "2024-01-08T10:00:00.123456", "2024-01-08T10:00:00Z",
	"2024-01-08T10:00:00+02", "2024-01-08T10:00:00+02:00", "2024-01-08 10:00:00-0530",
	"2024-02-29", "2023-02-29", "2024-01-08 24:00:00", "2024-01-08 23:59:60", "2024-01-08 10:00:00.9999999",
	"0001-01-01", "9999-12-31 23:59:59.999999", "2024-1-8", "2024-01-08 1:00", " 2024-01-08 ",
	"2024-01-08t10:00", "2024-01-08 10:00 Z", "2024-01-08 10:00:00 +02:00", "20240108", "now",
}

var unitSpellings = []string{
	"microsecond", "microseconds", "us", "usec", "usecs", "usecond", "useconds", "millisecond", "milliseconds", "ms", "msec", "msecs", "msecond", "mseconds", "Msecond",
	"second", "seconds", "s", "sec", "secs", "minute", "minutes", "m", "min", "mins", "hour", "hours",
	"h", "hr", "hrs", "day", "days", "d", "week", "weeks", "w", "month", "months", "mon", "mons",
	"year", "years", "y", "yr", "yrs", "decade", "decades", "dec", "century", "centuries", "c",
	"millennium", "millennia", "mil", "quarter", "fortnight", "Days", "HOURS",
}

func genNumber(r *rand.Rand) string {
	var s string
	switch r.Intn(6) {
	case 0:
		s = fmt.Sprint(r.Intn(3))
	case 1:
		s = fmt.Sprint(r.Intn(100))
	case 2:
		s = fmt.Sprintf("%d.%d", r.Intn(10), r.Intn(1000))
	case 3:
		s = fmt.Sprintf(".%d", r.Intn(100))
	case 4:
		s = fmt.Sprint(r.Int63n(1 << uint(r.Intn(40)+1)))
	default:
		s = fmt.Sprint(r.Intn(1000))
	}
	if r.Intn(6) == 0 {
		s = "-" + s
	} else if r.Intn(12) == 0 {
		s = "+" + s
	}
	return s
}

func genTime(r *rand.Rand) string {
	switch r.Intn(4) {
	case 0:
		return fmt.Sprintf("%02d:%02d", r.Intn(30), r.Intn(61))
	case 1:
		return fmt.Sprintf("%d:%02d:%02d", r.Intn(100), r.Intn(60), r.Intn(61))
	case 2:
		return fmt.Sprintf("%02d:%02d:%02d.%d", r.Intn(24), r.Intn(60), r.Intn(60), r.Intn(10000000))
	default:
		return fmt.Sprintf("%02d:%02d.%d", r.Intn(60), r.Intn(60), r.Intn(1000))
	}
}

func genISO(r *rand.Rand) string {
	var b strings.Builder
	b.WriteByte('P')
	for _, u := range []string{"Y", "M", "W", "D"} {
		if r.Intn(3) == 0 {
			b.WriteString(genNumber(r) + u)
		}
	}
	if r.Intn(2) == 0 {
		b.WriteByte('T')
		for _, u := range []string{"H", "M", "S"} {
			if r.Intn(2) == 0 {
				b.WriteString(genNumber(r) + u)
			}
		}
	}
	if r.Intn(10) == 0 {
		return fmt.Sprintf("P%04d-%02d-%02dT%02d:%02d:%02d", r.Intn(20), r.Intn(14), r.Intn(40), r.Intn(30), r.Intn(70), r.Intn(70))
	}
	return b.String()
}

func genInterval(r *rand.Rand) string {
	if r.Intn(5) == 0 {
		return genISO(r)
	}
	var parts []string
	if r.Intn(8) == 0 {
		parts = append(parts, "@")
	}
	n := 1 + r.Intn(3)
	for i := 0; i < n; i++ {
		switch r.Intn(7) {
		case 0:
			parts = append(parts, genTime(r))
		case 1:
			parts = append(parts, genNumber(r))
		case 2:
			parts = append(parts, fmt.Sprintf("%d-%d", r.Intn(100), r.Intn(14)))
		default:
			u := unitSpellings[r.Intn(len(unitSpellings))]
			if r.Intn(8) == 0 {
				parts = append(parts, genNumber(r)+u)
			} else {
				parts = append(parts, genNumber(r), u)
			}
		}
	}
	if r.Intn(8) == 0 {
		parts = append(parts, "ago")
	}
	sep := " "
	if r.Intn(10) == 0 {
		sep = ", "
	}
	return strings.Join(parts, sep)
}

func genTimestamp(r *rand.Rand) string {
	y := 1 + r.Intn(9999)
	if r.Intn(2) == 0 {
		y = 1990 + r.Intn(60)
	}
	m, d := 1+r.Intn(12), 1+r.Intn(31)
	s := fmt.Sprintf("%04d-%02d-%02d", y, m, d)
	if r.Intn(6) == 0 {
		s = fmt.Sprintf("%04d-%d-%d", y, m, d)
	}
	if r.Intn(4) == 0 {
		return s
	}
	sep := []string{" ", "T", "t", "  "}[r.Intn(4)]
	h, mi := r.Intn(25), r.Intn(60)
	switch r.Intn(4) {
	case 0:
		s += fmt.Sprintf("%s%02d:%02d", sep, h, mi)
	case 1:
		s += fmt.Sprintf("%s%d:%02d:%02d", sep, h, mi, r.Intn(61))
	default:
		frac := fmt.Sprint(r.Intn(10000000))
		frac = frac[:1+r.Intn(len(frac))]
		s += fmt.Sprintf("%s%02d:%02d:%02d.%s", sep, h, mi, r.Intn(60), frac)
	}
	switch r.Intn(6) {
	case 0:
		s += "Z"
	case 1:
		s += fmt.Sprintf("%+03d", r.Intn(31)-15)
	case 2:
		s += fmt.Sprintf("%+03d:%02d", r.Intn(31)-15, r.Intn(60))
	case 3:
		s += fmt.Sprintf(" %+03d%02d", r.Intn(31)-15, []int{0, 30, 45}[r.Intn(3)])
	}
	return s
}

func genElem(r *rand.Rand, typ string) string {
	var v string
	switch typ {
	case "uuid":
		var u UUID
		r.Read(u[:])
		v = u.String()
		switch r.Intn(6) {
		case 0:
			v = strings.ToUpper(v)
		case 1:
			v = strings.ReplaceAll(v, "-", "")
		case 2:
			v = `"{` + v + `}"`
		}
	case "int":
		v = fmt.Sprint(r.Int63n(1<<33) - 1<<32)
		if r.Intn(2) == 0 {
			v = fmt.Sprint(r.Intn(20))
		}
	default:
		words := []string{"web", "whatsapp", "a b", `q"uote`, `back\slash`, "NULL", "null", "", "x,y", "{br}", " pad ", "ünï"}
		v = words[r.Intn(len(words))]
		if r.Intn(2) == 0 || strings.ContainsAny(v, " ,{}\"\\") || v == "" || strings.EqualFold(v, "null") {
			v = `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(v) + `"`
		}
	}
	if r.Intn(10) == 0 {
		v = "NULL"
	}
	if r.Intn(5) == 0 {
		v = " " + v + " "
	}
	return v
}

func genArray(r *rand.Rand, typ string) string {
	if r.Intn(12) == 0 {
		return "{}"
	}
	if r.Intn(10) == 0 {
		// two-dimensional
		rows, cols := 1+r.Intn(3), 1+r.Intn(3)
		var rs []string
		for i := 0; i < rows; i++ {
			var cs []string
			for j := 0; j < cols; j++ {
				cs = append(cs, genElem(r, typ))
			}
			rs = append(rs, "{"+strings.Join(cs, ",")+"}")
		}
		return "{" + strings.Join(rs, ",") + "}"
	}
	n := 1 + r.Intn(4)
	var es []string
	for i := 0; i < n; i++ {
		es = append(es, genElem(r, typ))
	}
	sep := ","
	if r.Intn(3) == 0 {
		sep = ", "
	}
	s := "{" + strings.Join(es, sep) + "}"
	if r.Intn(15) == 0 {
		s = fmt.Sprintf("[1:%d]=%s", n, s)
	}
	return s
}

// mutate makes a small random edit, to probe how errors are handled.
func mutate(r *rand.Rand, s string) string {
	const alphabet = " -+:.,{}\"\\@PTYMDHSWZabcdefxyz0123456789[]=/_"
	b := []byte(s)
	for k := 0; k < 1+r.Intn(2); k++ {
		switch r.Intn(3) {
		case 0:
			if len(b) > 0 {
				i := r.Intn(len(b))
				b = append(b[:i], b[i+1:]...)
			}
		case 1:
			i := r.Intn(len(b) + 1)
			b = append(b[:i], append([]byte{alphabet[r.Intn(len(alphabet))]}, b[i:]...)...)
		default:
			if len(b) > 0 {
				b[r.Intn(len(b))] = alphabet[r.Intn(len(alphabet))]
			}
		}
	}
	// PostgreSQL rejects invalid UTF-8 before any cast runs.
	return strings.ToValidUTF8(string(b), "?")
}
