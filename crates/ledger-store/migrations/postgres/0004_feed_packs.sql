-- The change feed is stored in packs (see the SQLite migration of the same name): the
-- consecutive entries of one write for one entity and one department share a row, keyed by the
-- sequence number of the pack's last entry. `entries` is a JSON array of
-- `[measure_id, change, start_date, end_date, position]`. Existing entries become packs of one.

CREATE TABLE restriction_feed (
    generation  BIGINT NOT NULL,
    seq         BIGINT NOT NULL, -- the last entry's sequence number
    first_seq   BIGINT NOT NULL,
    department  TEXT   NOT NULL,
    stream      TEXT   NOT NULL,
    entries     TEXT   NOT NULL,
    PRIMARY KEY (generation, seq)
);
INSERT INTO restriction_feed
SELECT generation, seq, seq, department, stream,
       json_build_array(json_build_array(measure_id, change, start_date, end_date, position))::TEXT
FROM restriction_changes;
DROP TABLE restriction_changes;
CREATE INDEX restriction_feed_department ON restriction_feed (generation, department, seq);
