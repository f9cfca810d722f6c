-- Queries of the PostgreSQL backend. Each starts with a `-- name:` line; the store refuses to
-- start if a name it needs is missing. Placeholders are `$n`. A name ending in `_prefix` is
-- completed by the store with a generated list of value tuples or `IN (...)` placeholders.

-- name: log_head
SELECT size, last_recorded_at FROM log_head WHERE id = 1

-- name: advance_log_head
UPDATE log_head SET size = $1, last_recorded_at = $2 WHERE id = 1 AND size = $3

-- name: insert_events_prefix
INSERT INTO events (position, stream, stream_version, event_id, event_type, schema_version,
                    effective_at, recorded_at, recorded_by, payload, prev_hash, hash)
VALUES

-- name: upsert_streams_prefix
INSERT INTO streams (stream, version, head_hash, head_position) VALUES

-- name: upsert_streams_suffix
ON CONFLICT (stream) DO UPDATE
SET version = excluded.version, head_hash = excluded.head_hash,
    head_position = excluded.head_position

-- name: stream_heads_prefix
SELECT stream, version, head_hash, head_position FROM streams WHERE stream IN

-- name: events_by_ids_prefix
SELECT position, stream, stream_version, event_id, event_type, schema_version, effective_at,
       recorded_at, recorded_by, payload, prev_hash, hash
FROM events WHERE event_id IN

-- name: upsert_tiles_prefix
INSERT INTO merkle_tiles (level, idx, hashes) VALUES

-- name: upsert_tiles_suffix
ON CONFLICT (level, idx) DO UPDATE SET hashes = excluded.hashes

-- name: select_tile
SELECT hashes FROM merkle_tiles WHERE level = $1 AND idx = $2

-- name: tiles_range
SELECT idx, hashes FROM merkle_tiles WHERE level = $1 AND idx >= $2 AND idx <= $3
ORDER BY idx

-- name: read_stream
SELECT position, stream, stream_version, event_id, event_type, schema_version, effective_at,
       recorded_at, recorded_by, payload, prev_hash, hash
FROM events WHERE stream = $1 AND stream_version >= $2 ORDER BY stream_version LIMIT $3

-- name: read_log
SELECT position, stream, stream_version, event_id, event_type, schema_version, effective_at,
       recorded_at, recorded_by, payload, prev_hash, hash
FROM events WHERE position >= $1 AND position < $2 ORDER BY position LIMIT $3

-- name: read_log_streams
SELECT position, stream FROM events WHERE position >= $1 AND position < $2 ORDER BY position LIMIT $3

-- name: stream_log
SELECT position, stream, stream_version, event_id, event_type, schema_version, effective_at,
       recorded_at, recorded_by, payload, prev_hash, hash
FROM events WHERE position >= $1 ORDER BY position

-- name: event_by_position
SELECT position, stream, stream_version, event_id, event_type, schema_version, effective_at,
       recorded_at, recorded_by, payload, prev_hash, hash
FROM events WHERE position = $1

-- name: event_by_id
SELECT position, stream, stream_version, event_id, event_type, schema_version, effective_at,
       recorded_at, recorded_by, payload, prev_hash, hash
FROM events WHERE event_id = $1

-- name: stream_head
SELECT stream, version, head_hash, head_position FROM streams WHERE stream = $1

-- name: all_stream_heads
SELECT stream, version, head_hash, head_position FROM streams

-- name: stream_count
SELECT COUNT(*)::BIGINT FROM streams

-- name: insert_checkpoint
INSERT INTO checkpoints (size, root, note, created_at) VALUES ($1, $2, $3, $4)
ON CONFLICT (size) DO NOTHING

-- name: latest_checkpoint
SELECT size, root, note, created_at FROM checkpoints ORDER BY size DESC LIMIT 1

-- name: checkpoint_at_least
SELECT size, root, note, created_at FROM checkpoints WHERE size >= $1 ORDER BY size LIMIT 1

-- name: all_checkpoints
SELECT size, root, note, created_at FROM checkpoints ORDER BY size

-- name: insert_personal_data
INSERT INTO personal_data (commitment_id, position, salt, data) VALUES ($1, $2, $3, $4)

-- name: erase_personal_data
UPDATE personal_data SET salt = NULL, data = NULL, erased_at = $1, erased_position = $2
WHERE commitment_id = $3 AND erased_at IS NULL

-- name: select_personal_data
SELECT position, salt, data, erased_at, erased_position FROM personal_data
WHERE commitment_id = $1

-- name: get_projection_checkpoint
SELECT position FROM projection_checkpoints WHERE name = $1

-- name: put_projection_checkpoint
INSERT INTO projection_checkpoints (name, position, updated_at) VALUES ($1, $2, $3)
ON CONFLICT (name) DO UPDATE SET position = excluded.position, updated_at = excluded.updated_at

-- name: try_writer_lock
SELECT CASE WHEN pg_try_advisory_lock($1) THEN 1::BIGINT ELSE 0::BIGINT END
