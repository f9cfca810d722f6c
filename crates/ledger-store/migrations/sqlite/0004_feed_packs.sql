-- The change feed is stored in packs: the consecutive entries of one write for one entity and
-- one department share a row, keyed by the sequence number of the pack's last entry.
--
-- A rebuild announces every restriction of a fresh generation (one entry when it starts and one
-- when its end is known), which made the feed half of all rows written; a pack per entity and
-- department keeps the cursor per entry and the department index, with a few rows instead of
-- a hundred for a heavy entity. `entries` is a JSON array of
-- `[measure_id, change, start_date, end_date, position]`, entry `first_seq + i` at index `i`.
-- Existing entries become packs of one.

CREATE TABLE restriction_feed (
    generation  INTEGER NOT NULL,
    seq         INTEGER NOT NULL, -- the last entry's sequence number
    first_seq   INTEGER NOT NULL,
    department  TEXT    NOT NULL,
    stream      TEXT    NOT NULL,
    entries     TEXT    NOT NULL,
    PRIMARY KEY (generation, seq)
) WITHOUT ROWID;
INSERT INTO restriction_feed
SELECT generation, seq, seq, department, stream,
       json_array(json_array(measure_id, change, start_date, end_date, position))
FROM restriction_changes;
DROP TABLE restriction_changes;
CREATE INDEX restriction_feed_department ON restriction_feed (generation, department, seq);
