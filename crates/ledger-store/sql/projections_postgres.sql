-- Projection statements of the PostgreSQL backend (same conventions as postgres.sql).

-- name: init_projection
INSERT INTO projection_state (name, active_generation) VALUES ($1, 1)
ON CONFLICT (name) DO NOTHING

-- name: projection_state
SELECT active_generation, building_generation, building_snapshot, building_after
FROM projection_state WHERE name = $1

-- name: begin_rebuild
UPDATE projection_state
SET building_generation = $1, building_snapshot = $2, building_after = NULL
WHERE name = $3

-- name: rebuild_progress
-- Moves a rebuild's resume point to $1, only from $4 (NULL at the start): a second rebuild of
-- the same generation finds it moved and stops.
UPDATE projection_state SET building_after = $1
WHERE name = $2 AND building_generation = $3 AND building_after IS NOT DISTINCT FROM $4

-- name: swap_generation
UPDATE projection_state
SET active_generation = building_generation, building_generation = NULL,
    building_snapshot = NULL, building_after = NULL
WHERE name = $1 AND building_generation = $2

-- name: streams_ordered
SELECT position, stream, stream_version, event_id, event_type, schema_version, effective_at,
       recorded_at, recorded_by, payload, prev_hash, hash
FROM events WHERE stream > $1 AND stream < $2 AND position < $3
ORDER BY stream, stream_version LIMIT $4

-- name: advance_projection_checkpoint
-- Moves a projection's checkpoint to $2, only from $4: the position the write's rows were
-- computed from. No row changes when another projector moved it first.
INSERT INTO projection_checkpoints (name, position, updated_at) VALUES ($1, $2, $3)
ON CONFLICT (name) DO UPDATE SET position = excluded.position, updated_at = excluded.updated_at
WHERE projection_checkpoints.position = $4

-- name: upsert_timelines_prefix
INSERT INTO entity_timelines (generation, stream, position, name, timeline) VALUES

-- name: upsert_timelines_suffix
ON CONFLICT (generation, stream) DO UPDATE
SET position = excluded.position, name = excluded.name, timeline = excluded.timeline

-- name: insert_restrictions_prefix
INSERT INTO restriction_index (generation, department, stream, measure_id, start_date,
                               end_date, trigger, position, ordinal) VALUES

-- name: insert_lists_prefix
INSERT INTO list_index (generation, stream, list, ground, start_date, end_date, position,
                        ordinal) VALUES

-- name: insert_disclosures_prefix
INSERT INTO disclosures (generation, stream, decision_number, start_date, end_date, position,
                         ordinal) VALUES

-- name: insert_changes_prefix
INSERT INTO restriction_feed (generation, seq, first_seq, department, stream, entries) VALUES

-- name: delete_entity_restrictions
DELETE FROM restriction_index WHERE generation = $1 AND stream = $2

-- name: delete_entity_lists
DELETE FROM list_index WHERE generation = $1 AND stream = $2

-- name: delete_entity_disclosures
DELETE FROM disclosures WHERE generation = $1 AND stream = $2

-- name: max_change_seq
SELECT COALESCE(MAX(seq), 0)::BIGINT FROM restriction_feed WHERE generation = $1

-- name: entity_timeline
SELECT position, name, timeline FROM entity_timelines WHERE generation = $1 AND stream = $2

-- name: entity_timeline_head
SELECT position FROM entity_timelines WHERE generation = $1 AND stream = $2

-- name: department_restrictions
-- `{generation}` is replaced by the generation's number: its index (department, stream) is
-- partial (WHERE generation = N), and a planner only uses it for a query naming the same N.
-- It reads the department's rows in stream order from the cursor and stops at the limit.
SELECT stream, measure_id, start_date, end_date, trigger, position FROM restriction_index
WHERE generation = {generation} AND department = $1 AND start_date <= $2
  AND (end_date IS NULL OR end_date > $3) AND stream > $4
ORDER BY stream, measure_id LIMIT $5

-- name: all_changes
-- Feed packs whose last entry is after the cursor: each holds at least one entry to return.
SELECT first_seq, stream, entries, department
FROM restriction_feed WHERE generation = $1 AND seq > $2 ORDER BY seq LIMIT $3

-- name: department_changes
SELECT first_seq, stream, entries FROM restriction_feed
WHERE generation = $1 AND department = $2 AND seq > $3 ORDER BY seq LIMIT $4

-- name: disclosures_at
SELECT stream, decision_number, start_date, end_date, position FROM disclosures
WHERE generation = $1 AND start_date <= $2 AND (end_date IS NULL OR end_date > $3) AND stream > $4
ORDER BY stream, decision_number LIMIT $5

-- name: list_counts
SELECT list, ground, SUBSTR(start_date, 1, 7), COUNT(*)::BIGINT FROM list_index
WHERE generation = $1
GROUP BY list, ground, SUBSTR(start_date, 1, 7) ORDER BY 3, 1, 2

-- name: restriction_counts
SELECT department, SUBSTR(start_date, 1, 7), COUNT(*)::BIGINT FROM restriction_index
WHERE generation = $1 GROUP BY department, SUBSTR(start_date, 1, 7) ORDER BY 2, 1

-- name: generation_indexes
-- The indexes of single generations (`GENERATION_INDEXES`, named `<name>_g<N>`) in the store's
-- schema.
SELECT indexname::TEXT FROM pg_indexes
WHERE schemaname = current_schema() AND indexname LIKE '%\_g%'

-- name: older_generation
-- The newest generation below the given one that still has rows in any table.
SELECT MAX(g) FROM (
    SELECT MAX(generation) AS g FROM entity_timelines WHERE generation < $1
    UNION ALL SELECT MAX(generation) FROM restriction_index WHERE generation < $1
    UNION ALL SELECT MAX(generation) FROM list_index WHERE generation < $1
    UNION ALL SELECT MAX(generation) FROM disclosures WHERE generation < $1
    UNION ALL SELECT MAX(generation) FROM restriction_feed WHERE generation < $1
) AS older

-- name: drop_generation_timelines_bound
-- Deleting a generation goes a chunk at a time along the key: the last key of the next
-- chunk after the previous one (NULL when none is left), then the rows up to it.
SELECT MAX(stream) FROM (
    SELECT stream FROM entity_timelines WHERE generation = $1 AND stream > $2
    ORDER BY stream LIMIT $3
) AS chunk

-- name: drop_generation_timelines
DELETE FROM entity_timelines WHERE generation = $1 AND stream > $2 AND stream <= $3

-- name: drop_generation_restrictions_bound
SELECT MAX(stream) FROM (
    SELECT stream FROM restriction_index WHERE generation = $1 AND stream > $2
    ORDER BY stream LIMIT $3
) AS chunk

-- name: drop_generation_restrictions
DELETE FROM restriction_index WHERE generation = $1 AND stream > $2 AND stream <= $3

-- name: drop_generation_lists_bound
SELECT MAX(stream) FROM (
    SELECT stream FROM list_index WHERE generation = $1 AND stream > $2
    ORDER BY stream LIMIT $3
) AS chunk

-- name: drop_generation_lists
DELETE FROM list_index WHERE generation = $1 AND stream > $2 AND stream <= $3

-- name: drop_generation_disclosures_bound
SELECT MAX(stream) FROM (
    SELECT stream FROM disclosures WHERE generation = $1 AND stream > $2
    ORDER BY stream LIMIT $3
) AS chunk

-- name: drop_generation_disclosures
DELETE FROM disclosures WHERE generation = $1 AND stream > $2 AND stream <= $3

-- name: drop_generation_changes_bound
SELECT MAX(seq) FROM (
    SELECT seq FROM restriction_feed WHERE generation = $1 AND seq > $2
    ORDER BY seq LIMIT $3
) AS chunk

-- name: drop_generation_changes
DELETE FROM restriction_feed WHERE generation = $1 AND seq > $2 AND seq <= $3
