package pgtext

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/tally-server/tally/internal/pgtest"
	"github.com/tally-server/tally/internal/testseed"
)

func TestMain(m *testing.M) {
	code := m.Run()
	pgtest.StopShared()
	os.Exit(code)
}

// helperSQL defines functions that cast text and report the error instead
// of raising it, so thousands of inputs are checked in one statement.
const helperSQL = `
SET TimeZone = 'UTC';
SET IntervalStyle = 'postgres';
CREATE OR REPLACE FUNCTION try_interval(t text, OUT v interval, OUT err text) AS $$
BEGIN v := t::interval; EXCEPTION WHEN others THEN err := SQLSTATE || ' ' || SQLERRM; END $$ LANGUAGE plpgsql;
CREATE OR REPLACE FUNCTION try_ts(t text, OUT v timestamp, OUT err text) AS $$
BEGIN v := t::timestamptz AT TIME ZONE 'UTC'; EXCEPTION WHEN others THEN err := SQLSTATE || ' ' || SQLERRM; END $$ LANGUAGE plpgsql;
CREATE OR REPLACE FUNCTION try_arr(t text, typ text, OUT v text[], OUT err text) AS $$
BEGIN
  IF typ = 'uuid' THEN v := ARRAY(SELECT x::text FROM unnest(t::uuid[]) x);
  ELSIF typ = 'int' THEN v := ARRAY(SELECT x::text FROM unnest(t::int[]) x);
  ELSE v := ARRAY(SELECT x FROM unnest(t::text[]) x); END IF;
EXCEPTION WHEN others THEN err := SQLSTATE || ' ' || SQLERRM; END $$ LANGUAGE plpgsql;
CREATE OR REPLACE FUNCTION try_add(ts timestamp, iv interval, OUT v timestamp, OUT err text) AS $$
BEGIN v := ts + iv; EXCEPTION WHEN others THEN err := SQLSTATE || ' ' || SQLERRM; END $$ LANGUAGE plpgsql;
`

func connect(t *testing.T) *pgx.Conn {
	t.Helper()
	srv := pgtest.Shared(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, srv.URL)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	if _, err := conn.Exec(ctx, helperSQL); err != nil {
		t.Fatalf("helpers: %v", err)
	}
	return conn
}

// deviations are inputs where Tally knowingly differs from PostgreSQL; see
// docs/semantics.md. Each returns true when the input is such a case.
var deviations = map[string]func(kind, input string) bool{
	// strtod reads hexadecimal floats ("P0x1D"); Tally reads decimal only.
	"hex-float": func(kind, in string) bool { return kind == "interval" && strings.Contains(strings.ToLower(in), "x") },
	// strtod reads "inf"/"nan"/"infinity"; nobody sends them.
	"inf-nan": func(kind, in string) bool {
		l := strings.ToLower(in)
		return kind == "interval" && (strings.Contains(l, "inf") || strings.Contains(l, "nan"))
	},
}

func deviation(kind, in string) string {
	for name, f := range deviations {
		if f(kind, in) {
			return name
		}
	}
	return ""
}

func TestIntervalMatchesPostgres(t *testing.T) {
	conn := connect(t)
	rng := rand.New(rand.NewSource(testseed.Seed(t)))
	inputs := append([]string{}, intervalSeeds...)
	for len(inputs) < 6000 {
		s := genInterval(rng)
		if rng.Intn(4) == 0 {
			s = mutate(rng, s)
		}
		inputs = append(inputs, s)
	}
	rows, err := conn.Query(context.Background(), `SELECT x.v, x.err FROM unnest($1::text[]) WITH ORDINALITY u(t, n), LATERAL try_interval(u.t) x ORDER BY u.n`, inputs)
	if err != nil {
		t.Fatal(err)
	}
	i := 0
	accepted, failures := 0, 0
	for rows.Next() {
		var v pgtype.Interval
		var perr *string
		if err := rows.Scan(&v, &perr); err != nil {
			t.Fatal(err)
		}
		in := inputs[i]
		i++
		got, gerr := ParseInterval(in)
		switch {
		case perr == nil && gerr == nil:
			accepted++
			want := Interval{Months: v.Months, Days: v.Days, Micros: v.Microseconds}
			if got != want {
				failures++
				t.Errorf("ParseInterval(%q) = %+v, PostgreSQL %+v", in, got, want)
			}
		case perr != nil && gerr != nil:
			var se *SyntaxError
			var re *RangeError
			if !errors.As(gerr, &se) && !errors.As(gerr, &re) {
				t.Errorf("ParseInterval(%q) error %T is not a SyntaxError or RangeError", in, gerr)
			}
		case deviation("interval", in) != "":
		case perr == nil:
			failures++
			t.Errorf("ParseInterval(%q) failed (%v), PostgreSQL accepts it as %+v", in, gerr, v)
		default:
			failures++
			t.Errorf("ParseInterval(%q) = %+v, PostgreSQL rejects it: %s", in, got, *perr)
		}
		if failures > 20 {
			t.Fatal("too many failures")
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if accepted < len(inputs)/3 {
		t.Errorf("only %d of %d generated intervals were valid: the generator has drifted", accepted, len(inputs))
	}
	t.Logf("%d inputs, %d accepted by both", len(inputs), accepted)
}

func TestTimestampMatchesPostgres(t *testing.T) {
	conn := connect(t)
	rng := rand.New(rand.NewSource(testseed.Seed(t)))
	inputs := append([]string{}, timestampSeeds...)
	valid := map[int]bool{}
	for len(inputs) < 6000 {
		s := genTimestamp(rng)
		if rng.Intn(3) == 0 {
			s = mutate(rng, s)
		} else {
			valid[len(inputs)] = true
		}
		inputs = append(inputs, s)
	}
	rows, err := conn.Query(context.Background(), `SELECT x.v, x.err FROM unnest($1::text[]) WITH ORDINALITY u(t, n), LATERAL try_ts(u.t) x ORDER BY u.n`, inputs)
	if err != nil {
		t.Fatal(err)
	}
	i, failures, tallyOnlyRejects := 0, 0, 0
	for rows.Next() {
		var v pgtype.Timestamp
		var perr *string
		if err := rows.Scan(&v, &perr); err != nil {
			t.Fatal(err)
		}
		in := inputs[i]
		idx := i
		i++
		got, gerr := ParseTimestamp(in)
		switch {
		case perr == nil && gerr == nil:
			want := v.Time.UnixMicro()
			if got != want {
				failures++
				t.Errorf("ParseTimestamp(%q) = %s, PostgreSQL %s", in, FormatTimestamp(got), FormatTimestamp(want))
			}
		case perr != nil && gerr == nil:
			failures++
			t.Errorf("ParseTimestamp(%q) = %s, PostgreSQL rejects it: %s", in, FormatTimestamp(got), *perr)
		case perr == nil && gerr != nil:
			// Tally accepts a documented subset of PostgreSQL's forms, but
			// everything the generator builds from that subset must pass.
			if valid[idx] {
				failures++
				t.Errorf("ParseTimestamp(%q) failed (%v), PostgreSQL accepts it", in, gerr)
			}
			tallyOnlyRejects++
		}
		if failures > 20 {
			t.Fatal("too many failures")
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d inputs; %d accepted by PostgreSQL only (outside Tally's documented forms)", len(inputs), tallyOnlyRejects)
}

func TestArraysMatchPostgres(t *testing.T) {
	conn := connect(t)
	rng := rand.New(rand.NewSource(testseed.Seed(t)))
	for _, typ := range []string{"uuid", "int", "text"} {
		t.Run(typ, func(t *testing.T) {
			var inputs []string
			for len(inputs) < 3000 {
				s := genArray(rng, typ)
				if rng.Intn(4) == 0 {
					s = mutate(rng, s)
				}
				inputs = append(inputs, s)
			}
			rows, err := conn.Query(context.Background(), `SELECT x.v, x.err FROM unnest($1::text[]) WITH ORDINALITY u(t, n), LATERAL try_arr(u.t, $2) x ORDER BY u.n`, inputs, typ)
			if err != nil {
				t.Fatal(err)
			}
			i, failures, accepted := 0, 0, 0
			for rows.Next() {
				var v []*string
				var perr *string
				if err := rows.Scan(&v, &perr); err != nil {
					t.Fatal(err)
				}
				in := inputs[i]
				i++
				got, gerr := parseTyped(typ, in)
				switch {
				case perr == nil && gerr == nil:
					accepted++
					if g, w := showElems(got), showElems(v); g != w {
						failures++
						t.Errorf("%s[] %q: Tally %s, PostgreSQL %s", typ, in, g, w)
					}
				case perr == nil:
					failures++
					t.Errorf("%s[] %q: Tally fails (%v), PostgreSQL gives %s", typ, in, gerr, showElems(v))
				case gerr == nil:
					failures++
					t.Errorf("%s[] %q: Tally gives %s, PostgreSQL fails: %s", typ, in, showElems(got), *perr)
				}
				if failures > 20 {
					t.Fatal("too many failures")
				}
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			if accepted < len(inputs)/3 {
				t.Errorf("only %d of %d arrays were valid: the generator has drifted", accepted, len(inputs))
			}
		})
	}
}

// parseTyped parses an array literal of the given element type and renders
// elements as PostgreSQL's text output would.
func parseTyped(typ, in string) ([]*string, error) {
	switch typ {
	case "uuid":
		us, err := ParseUUIDArray(in)
		if err != nil {
			return nil, err
		}
		out := make([]*string, len(us))
		for i, u := range us {
			if u.Valid {
				s := u.UUID.String()
				out[i] = &s
			}
		}
		return out, nil
	case "int":
		vs, err := ParseInt4Array(in)
		if err != nil {
			return nil, err
		}
		out := make([]*string, len(vs))
		for i, v := range vs {
			if v.Valid {
				s := fmt.Sprint(v.Int32)
				out[i] = &s
			}
		}
		return out, nil
	}
	return ParseArray(in)
}

func showElems(es []*string) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, e := range es {
		if i > 0 {
			b.WriteByte(' ')
		}
		if e == nil {
			b.WriteString("NULL")
		} else {
			fmt.Fprintf(&b, "%q", *e)
		}
	}
	b.WriteByte(']')
	return b.String()
}

func TestAddIntervalMatchesPostgres(t *testing.T) {
	conn := connect(t)
	rng := rand.New(rand.NewSource(testseed.Seed(t)))
	const n = 5000
	tss := make([]time.Time, n)
	ivs := make([]pgtype.Interval, n)
	for i := range tss {
		ts := mustCivil(int64(1900+rng.Intn(200)), int64(1+rng.Intn(12)), int64(1+rng.Intn(31)))*MicrosPerDay + rng.Int63n(MicrosPerDay)
		if rng.Intn(3) == 0 {
			ts -= ts % MicrosPerDay // midnight, the common case
		}
		tss[i] = time.UnixMicro(ts).UTC()
		iv := pgtype.Interval{Valid: true}
		switch rng.Intn(4) {
		case 0:
			iv.Months = int32(rng.Intn(50) - 10)
		case 1:
			iv.Days = int32(rng.Intn(400) - 100)
		case 2:
			iv.Microseconds = rng.Int63n(10*MicrosPerDay) - MicrosPerDay
		default:
			iv.Months = int32(rng.Intn(30))
			iv.Days = int32(rng.Intn(60) - 20)
			iv.Microseconds = rng.Int63n(3 * MicrosPerDay)
		}
		ivs[i] = iv
	}
	rows, err := conn.Query(context.Background(), `SELECT x.v, x.err FROM unnest($1::timestamp[], $2::interval[]) WITH ORDINALITY u(ts, iv, n), LATERAL try_add(u.ts, u.iv) x ORDER BY u.n`, tss, ivs)
	if err != nil {
		t.Fatal(err)
	}
	i := 0
	for rows.Next() {
		var v pgtype.Timestamp
		var perr *string
		if err := rows.Scan(&v, &perr); err != nil {
			t.Fatal(err)
		}
		iv := Interval{Months: ivs[i].Months, Days: ivs[i].Days, Micros: ivs[i].Microseconds}
		ts := tss[i].UnixMicro()
		i++
		got, err := AddInterval(ts, iv)
		if perr != nil || err != nil {
			t.Errorf("%s + %s: Tally %v, PostgreSQL %v", FormatTimestamp(ts), iv, err, perr)
			continue
		}
		if want := v.Time.UnixMicro(); got != want {
			t.Errorf("%s + %s = %s, PostgreSQL %s", FormatTimestamp(ts), iv, FormatTimestamp(got), FormatTimestamp(want))
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if i != n {
		t.Fatalf("compared %d of %d", i, n)
	}
}
