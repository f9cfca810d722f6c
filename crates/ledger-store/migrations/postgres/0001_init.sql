-- The event log; see the SQLite migration for the reasons behind each table.
CREATE TABLE events (
    position       BIGINT PRIMARY KEY,
    stream         TEXT   NOT NULL,
    stream_version BIGINT NOT NULL,
    event_id       BYTEA  NOT NULL,
    event_type     TEXT   NOT NULL,
    schema_version BIGINT NOT NULL,
    effective_at   BIGINT NOT NULL,
    recorded_at    BIGINT NOT NULL,
    recorded_by    TEXT   NOT NULL,
    payload        BYTEA  NOT NULL,
    prev_hash      BYTEA  NOT NULL,
    hash           BYTEA  NOT NULL
);
CREATE UNIQUE INDEX events_stream_version ON events (stream, stream_version);
CREATE UNIQUE INDEX events_event_id ON events (event_id);

CREATE TABLE streams (
    stream        TEXT   PRIMARY KEY,
    version       BIGINT NOT NULL,
    head_hash     BYTEA  NOT NULL,
    head_position BIGINT NOT NULL
);

CREATE TABLE log_head (
    id               INTEGER PRIMARY KEY CHECK (id = 1),
    size             BIGINT  NOT NULL,
    last_recorded_at BIGINT  NOT NULL
);
INSERT INTO log_head (id, size, last_recorded_at) VALUES (1, 0, 0);

CREATE TABLE merkle_tiles (
    level  BIGINT NOT NULL,
    idx    BIGINT NOT NULL,
    hashes BYTEA  NOT NULL,
    PRIMARY KEY (level, idx)
);

CREATE TABLE checkpoints (
    size       BIGINT PRIMARY KEY,
    root       BYTEA  NOT NULL,
    note       TEXT   NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE personal_data (
    commitment_id   BYTEA  PRIMARY KEY,
    position        BIGINT NOT NULL,
    salt            BYTEA,
    data            TEXT,
    erased_at       BIGINT,
    erased_position BIGINT
);

CREATE TABLE projection_checkpoints (
    name       TEXT   PRIMARY KEY,
    position   BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
