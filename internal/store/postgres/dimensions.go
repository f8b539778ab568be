package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/tally-server/tally/internal/analytics"
	"github.com/tally-server/tally/internal/pgtext"
)

// dimensionSets are the grouping sets of dimensionsSQL, in the order of
// its GROUPING() arguments, with the dimension each names.
var dimensionSets = [...]string{
	analytics.DimDeskID, analytics.DimBrainParentID, analytics.DimIntegrationID,
	analytics.DimBrainVersion, analytics.DimChannel, analytics.DimIsTest, analytics.DimAgentID,
}

// dimensionsSQL counts the sessions per value of every dimension in one
// pass over the account's rows in range (WHERE is appended): the
// (account_id, start_time) index finds them, or a sequential scan when
// the range holds most of the table. Each session is joined to the
// elements of its agent_ids (or to one NULL when it has none), and one
// hash aggregate keeps a table per grouping set. A session counts once per
// set: in the sets of its columns through its first joined row (i is 1, or
// NULL without agents), in the agents' set through the first occurrence of
// each agent (array_position finds an element's first index). The value is
// the text form of the one column the set groups by; the other columns of
// the row are NULL, so coalesce picks it, and a NULL value is skipped.
const dimensionsSQL = `SELECT grouping(s.desk_id, s.brain_parent_id, s.integration_id, s.brain_version, s.channel, s.is_test, u.a),
	coalesce(s.desk_id::text, s.brain_parent_id::text, s.integration_id::text, s.brain_version::text, s.channel, s.is_test::text, u.a),
	count(*) FILTER (WHERE u.i IS NULL OR u.i = 1),
	count(*) FILTER (WHERE array_position(s.agent_ids, u.a) = u.i)
FROM tally.sessions s LEFT JOIN LATERAL unnest(s.agent_ids) WITH ORDINALITY AS u(a, i) ON true
WHERE s.account_id = $1`

const dimensionsGroup = ` GROUP BY GROUPING SETS ((s.desk_id), (s.brain_parent_id), (s.integration_id), (s.brain_version), (s.channel), (s.is_test), (u.a))`

// DimensionCounts answers session_dimension_counts for one account with
// dimensionsSQL. A bounded range of four weeks or more is split, as Count
// splits long ranges, into Config.Parallel chunks of time counted on
// separate connections at once (PostgreSQL does not parallelise grouping
// sets itself): a session starts in one chunk only, so the chunks' counts
// add up. The rows are in no particular order.
func (s *Store) DimensionCounts(ctx context.Context, account pgtext.UUID, q *analytics.DimensionQuery) ([]analytics.DimensionCount, error) {
	if q.EndMicros <= q.StartMicros {
		return nil, nil
	}
	hasStart, hasEnd := q.Bounded()
	chunks := 1
	if hasStart && hasEnd && q.EndMicros-q.StartMicros >= 28*pgtext.MicrosPerDay {
		chunks = s.parallel
	}
	if chunks == 1 {
		return s.dimensionRange(ctx, account, q.StartMicros, q.EndMicros, hasStart, hasEnd)
	}
	type answer struct {
		rows []analytics.DimensionCount
		err  error
	}
	answers := make(chan answer, chunks)
	width := (q.EndMicros - q.StartMicros) / int64(chunks)
	for c := 0; c < chunks; c++ {
		lo, hi := q.StartMicros+int64(c)*width, q.StartMicros+int64(c+1)*width
		if c == chunks-1 {
			hi = q.EndMicros
		}
		go func() {
			rows, err := s.dimensionRange(ctx, account, lo, hi, true, true)
			answers <- answer{rows, err}
		}()
	}
	type key struct{ dimension, value string }
	sum := map[key]int64{}
	var first error
	for c := 0; c < chunks; c++ {
		a := <-answers
		if a.err != nil && first == nil {
			first = a.err
		}
		for _, r := range a.rows {
			sum[key{r.Dimension, r.Value}] += r.Sessions
		}
	}
	if first != nil {
		return nil, first
	}
	out := make([]analytics.DimensionCount, 0, len(sum))
	for k, n := range sum {
		out = append(out, analytics.DimensionCount{Dimension: k.dimension, Value: k.value, Sessions: n})
	}
	return out, nil
}

// dimensionRange counts the sessions with start in [lo, hi); a bound that
// is not set is not a condition.
func (s *Store) dimensionRange(ctx context.Context, account pgtext.UUID, lo, hi int64, hasLo, hasHi bool) ([]analytics.DimensionCount, error) {
	sql := dimensionsSQL
	args := []any{pgtype.UUID{Bytes: account, Valid: true}}
	if hasLo {
		args = append(args, ts(lo))
		sql += fmt.Sprintf(" AND s.start_time >= $%d", len(args))
	}
	if hasHi {
		args = append(args, ts(hi))
		sql += fmt.Sprintf(" AND s.start_time < $%d", len(args))
	}
	rows, err := s.pool.Query(ctx, sql+dimensionsGroup, args...)
	if err != nil {
		return nil, unavailable("dimension counts", err)
	}
	defer rows.Close()
	var out []analytics.DimensionCount
	for rows.Next() {
		var (
			grouping        int
			value           pgtype.Text
			sessions, agent int64
		)
		if err := rows.Scan(&grouping, &value, &sessions, &agent); err != nil {
			return nil, unavailable("dimension counts", err)
		}
		set := -1
		for k := range dimensionSets {
			// GROUPING() sets the bit of every argument not grouped by;
			// the first argument is the highest bit.
			if grouping == (1<<len(dimensionSets)-1)&^(1<<(len(dimensionSets)-1-k)) {
				set = k
			}
		}
		if set < 0 {
			return nil, fmt.Errorf("dimension counts: grouping %b is not one of the sets", grouping)
		}
		if !value.Valid {
			continue
		}
		if dimensionSets[set] == analytics.DimAgentID {
			sessions = agent
		}
		if sessions > 0 {
			out = append(out, analytics.DimensionCount{Dimension: dimensionSets[set], Value: value.String, Sessions: sessions})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable("dimension counts", err)
	}
	return out, nil
}
