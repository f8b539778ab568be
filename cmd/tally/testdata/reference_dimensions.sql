-- Reference semantics of session_dimension_counts (docs/semantics.md, "What
-- session_dimension_counts counts"): the values present in an account's
-- sessions for each filter of open_closed_sessions_interval_counts_v2, with
-- the number of sessions that have each, as the PostgreSQL function a Hasura
-- deployment would expose. The account comes from the request credentials,
-- so here it is the first argument. It reads the sessions table of
-- reference.sql: load that file first.
--
-- Sessions counted: the account's, with start_time >= start_time and
-- start_time < end_time; a NULL bound is no bound. start_time and end_time
-- are wall-clock times in time_zone (NULL is UTC), converted to instants as
-- open_closed_sessions_interval_counts_ext converts them; stored start_time
-- is UTC.
-- Rows: one per (dimension, value) with value not NULL and at least one
-- session. dimension is the column's name, or agent_id for the elements of
-- agent_ids; value is the PostgreSQL text form (uuid lower case with
-- hyphens, int in decimal, boolean 'true'/'false'). A session counts once per
-- distinct value: an agent id listed twice in one session's agent_ids counts
-- that session once.
-- Order: dimension, then sessions descending, then value, comparing text by
-- byte value.
DROP TABLE IF EXISTS session_dimension_counts CASCADE;
CREATE TABLE session_dimension_counts (
  dimension text NOT NULL,
  value     text,
  sessions  bigint
);

CREATE OR REPLACE FUNCTION session_dimension_counts(
  account uuid, start_time timestamp DEFAULT NULL, end_time timestamp DEFAULT NULL,
  time_zone text DEFAULT NULL)
RETURNS SETOF session_dimension_counts LANGUAGE sql STABLE AS $$
  WITH s AS (
    SELECT x.*
    FROM sessions x
    WHERE x.account_id = $1
      AND ($2 IS NULL OR x.start_time AT TIME ZONE 'UTC' >= $2 AT TIME ZONE coalesce($4, 'UTC'))
      AND ($3 IS NULL OR x.start_time AT TIME ZONE 'UTC' <  $3 AT TIME ZONE coalesce($4, 'UTC'))
  ), v(dimension, value, session_id) AS (
              SELECT 'agent_id',        a,                      s.session_id FROM s, unnest(s.agent_ids) AS a
    UNION ALL SELECT 'brain_parent_id', s.brain_parent_id::text, s.session_id FROM s
    UNION ALL SELECT 'brain_version',   s.brain_version::text,   s.session_id FROM s
    UNION ALL SELECT 'channel',         s.channel,               s.session_id FROM s
    UNION ALL SELECT 'desk_id',         s.desk_id::text,         s.session_id FROM s
    UNION ALL SELECT 'integration_id',  s.integration_id::text,  s.session_id FROM s
    UNION ALL SELECT 'is_test',         s.is_test::text,         s.session_id FROM s
  )
  SELECT v.dimension, v.value, count(DISTINCT v.session_id)
  FROM v
  WHERE v.value IS NOT NULL
  GROUP BY v.dimension, v.value
  ORDER BY v.dimension COLLATE "C", 3 DESC, v.value COLLATE "C"
$$;
