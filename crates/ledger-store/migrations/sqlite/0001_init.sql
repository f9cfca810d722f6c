-- The event log. `position` is the rowid, so appends go to the end of the table's B-tree.
-- Only two secondary indexes: per-stream reads and idempotency by event id.
CREATE TABLE events (
    position       INTEGER PRIMARY KEY,
    stream         TEXT    NOT NULL,
    stream_version INTEGER NOT NULL,
    event_id       BLOB    NOT NULL,
    event_type     TEXT    NOT NULL,
    schema_version INTEGER NOT NULL,
    effective_at   INTEGER NOT NULL, -- microseconds since the Unix epoch, UTC
    recorded_at    INTEGER NOT NULL, -- microseconds since the Unix epoch, UTC
    recorded_by    TEXT    NOT NULL,
    payload        BLOB    NOT NULL, -- canonical JSON bytes, exactly as hashed
    prev_hash      BLOB    NOT NULL,
    hash           BLOB    NOT NULL
);
CREATE UNIQUE INDEX events_stream_version ON events (stream, stream_version);
CREATE UNIQUE INDEX events_event_id ON events (event_id);

-- The head of every stream: what the next append checks its expected version against.
CREATE TABLE streams (
    stream        TEXT    PRIMARY KEY,
    version       INTEGER NOT NULL,
    head_hash     BLOB    NOT NULL,
    head_position INTEGER NOT NULL
) WITHOUT ROWID;

-- One row: the committed log size. Every append batch moves it with a compare-and-set, so a
-- second writer that slipped past the writer lock fails instead of forking the log.
CREATE TABLE log_head (
    id               INTEGER PRIMARY KEY CHECK (id = 1),
    size             INTEGER NOT NULL,
    last_recorded_at INTEGER NOT NULL
);
INSERT INTO log_head (id, size, last_recorded_at) VALUES (1, 0, 0);

-- Merkle tiles: tile level L holds the tree nodes of height 8L, 256 to a row, concatenated
-- 32-byte hashes; the right-most tile of each level is rewritten as it fills.
CREATE TABLE merkle_tiles (
    level  INTEGER NOT NULL,
    idx    INTEGER NOT NULL,
    hashes BLOB    NOT NULL,
    PRIMARY KEY (level, idx)
) WITHOUT ROWID;

CREATE TABLE checkpoints (
    size       INTEGER PRIMARY KEY,
    root       BLOB    NOT NULL,
    note       TEXT    NOT NULL,
    created_at INTEGER NOT NULL
);

-- Values behind personal-data commitments. Never hashed; erasable.
CREATE TABLE personal_data (
    commitment_id   BLOB    PRIMARY KEY,
    position        INTEGER NOT NULL,
    salt            BLOB,
    data            TEXT,
    erased_at       INTEGER,
    erased_position INTEGER
);

CREATE TABLE projection_checkpoints (
    name       TEXT    PRIMARY KEY,
    position   INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
