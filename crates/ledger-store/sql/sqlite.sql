-- Queries of the SQLite backend. Each starts with a `-- name:` line; the store refuses to
-- start if a name it needs is missing. Placeholders are `?`. A name ending in `_prefix` is
-- completed by the store with a generated list of value tuples or `IN (...)` placeholders.

-- name: log_head
SELECT size, last_recorded_at FROM log_head WHERE id = 1

-- name: advance_log_head
UPDATE log_head SET size = ?, last_recorded_at = ? WHERE id = 1 AND size = ?

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
SELECT hashes FROM merkle_tiles WHERE level = ? AND idx = ?

-- name: tiles_range
SELECT idx, hashes FROM merkle_tiles WHERE level = ? AND idx >= ? AND idx <= ?
ORDER BY idx

-- name: read_stream
SELECT position, stream, stream_version, event_id, event_type, schema_version, effective_at,
       recorded_at, recorded_by, payload, prev_hash, hash
FROM events WHERE stream = ? AND stream_version >= ? ORDER BY stream_version LIMIT ?

-- name: read_log
SELECT position, stream, stream_version, event_id, event_type, schema_version, effective_at,
       recorded_at, recorded_by, payload, prev_hash, hash
FROM events WHERE position >= ? AND position < ? ORDER BY position LIMIT ?

-- name: read_log_streams
SELECT position, stream FROM events WHERE position >= ? AND position < ? ORDER BY position LIMIT ?

-- name: stream_log
SELECT position, stream, stream_version, event_id, event_type, schema_version, effective_at,
       recorded_at, recorded_by, payload, prev_hash, hash
FROM events WHERE position >= ? ORDER BY position

-- name: event_by_position
SELECT position, stream, stream_version, event_id, event_type, schema_version, effective_at,
       recorded_at, recorded_by, payload, prev_hash, hash
FROM events WHERE position = ?

-- name: event_by_id
SELECT position, stream, stream_version, event_id, event_type, schema_version, effective_at,
       recorded_at, recorded_by, payload, prev_hash, hash
FROM events WHERE event_id = ?

-- name: stream_head
SELECT stream, version, head_hash, head_position FROM streams WHERE stream = ?

-- name: all_stream_heads
SELECT stream, version, head_hash, head_position FROM streams

-- name: stream_count
SELECT COUNT(*) FROM streams

-- name: insert_checkpoint
INSERT INTO checkpoints (size, root, note, created_at) VALUES (?, ?, ?, ?)
ON CONFLICT (size) DO NOTHING

-- name: latest_checkpoint
SELECT size, root, note, created_at FROM checkpoints ORDER BY size DESC LIMIT 1

-- name: checkpoint_at_least
SELECT size, root, note, created_at FROM checkpoints WHERE size >= ? ORDER BY size LIMIT 1

-- name: all_checkpoints
SELECT size, root, note, created_at FROM checkpoints ORDER BY size

-- name: insert_personal_data
INSERT INTO personal_data (commitment_id, position, salt, data) VALUES (?, ?, ?, ?)

-- name: erase_personal_data
UPDATE personal_data SET salt = NULL, data = NULL, erased_at = ?, erased_position = ?
WHERE commitment_id = ? AND erased_at IS NULL

-- name: select_personal_data
SELECT position, salt, data, erased_at, erased_position FROM personal_data
WHERE commitment_id = ?

-- name: get_projection_checkpoint
SELECT position FROM projection_checkpoints WHERE name = ?

-- name: put_projection_checkpoint
INSERT INTO projection_checkpoints (name, position, updated_at) VALUES (?, ?, ?)
ON CONFLICT (name) DO UPDATE SET position = excluded.position, updated_at = excluded.updated_at

-- name: try_writer_lock
-- SQLite serialises writers itself; the log-head compare-and-set guards the rest.
SELECT 1 + 0 * ?
