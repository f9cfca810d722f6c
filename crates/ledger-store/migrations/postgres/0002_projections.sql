-- Projections: caches of the pure fold of each entity's events (see docs/projections.md).
-- Every row carries the generation it belongs to: a rebuild writes a new generation beside
-- the active one and a one-row update swaps them, so reads never see a half-built view.

CREATE TABLE projection_state (
    name               TEXT    PRIMARY KEY,
    active_generation  BIGINT NOT NULL,
    building_generation BIGINT,
    -- The log size the rebuild scans up to, and the last stream it finished.
    building_snapshot  BIGINT,
    building_after     TEXT
);

-- The cached timeline of each entity: every list stay, publication and restriction interval.
CREATE TABLE entity_timelines (
    generation BIGINT NOT NULL,
    stream     TEXT    NOT NULL,
    position   BIGINT NOT NULL, -- last event of the stream applied
    name       TEXT,             -- the entity's registered name, as last changed
    timeline   TEXT    NOT NULL, -- JSON
    PRIMARY KEY (generation, stream)
);

-- Per-department index of restrictions, read at a date: start <= d < end (end NULL: open).
CREATE TABLE restriction_index (
    generation  BIGINT NOT NULL,
    department  TEXT    NOT NULL,
    stream      TEXT    NOT NULL,
    measure_id  TEXT    NOT NULL,
    start_date  TEXT    NOT NULL,
    end_date    TEXT,
    trigger     TEXT    NOT NULL,
    position    BIGINT NOT NULL
);
CREATE INDEX restriction_index_department ON restriction_index (generation, department, start_date);
CREATE INDEX restriction_index_stream ON restriction_index (generation, stream);

-- List stays, for the public lists and the dashboard counts.
CREATE TABLE list_index (
    generation  BIGINT NOT NULL,
    stream      TEXT    NOT NULL,
    list        TEXT    NOT NULL,
    ground      TEXT    NOT NULL,
    start_date  TEXT    NOT NULL,
    end_date    TEXT,
    position    BIGINT NOT NULL
);
CREATE INDEX list_index_stream ON list_index (generation, stream);
CREATE INDEX list_index_list ON list_index (generation, list, start_date);

-- The public penalty disclosure list: penalties shown and until when.
CREATE TABLE disclosures (
    generation      BIGINT NOT NULL,
    stream          TEXT    NOT NULL,
    decision_number TEXT    NOT NULL,
    start_date      TEXT    NOT NULL,
    end_date        TEXT,
    position        BIGINT NOT NULL
);
CREATE INDEX disclosures_stream ON disclosures (generation, stream);
CREATE INDEX disclosures_start ON disclosures (generation, start_date);

-- Restrictions starting or ending, in the order the ledger learned of them: the change feed.
CREATE TABLE restriction_changes (
    generation  BIGINT NOT NULL,
    seq         BIGINT NOT NULL,
    department  TEXT    NOT NULL,
    stream      TEXT    NOT NULL,
    measure_id  TEXT    NOT NULL,
    change      TEXT    NOT NULL, -- 'started' or 'ended' or 'withdrawn'
    start_date  TEXT    NOT NULL,
    end_date    TEXT,
    position    BIGINT NOT NULL,
    PRIMARY KEY (generation, seq)
);
CREATE INDEX restriction_changes_department ON restriction_changes (generation, department, seq);
