-- The projection tables keyed by what they are written and read by: each entity's rows are
-- clustered under (generation, stream, ordinal), the feed under (generation, seq).
--
-- A rowid table with an index on (generation, stream) kept every row in three B-trees (the
-- table, that index and the department, list or date index); a rebuild writes hundreds of
-- rows per entity, and the third B-tree was a third of that work. `ordinal` is the row's place
-- in the entity's list, which makes the key unique. Existing rows are carried over.

CREATE TABLE restriction_index_clustered (
    generation  INTEGER NOT NULL,
    stream      TEXT    NOT NULL,
    ordinal     INTEGER NOT NULL,
    department  TEXT    NOT NULL,
    measure_id  TEXT    NOT NULL,
    start_date  TEXT    NOT NULL,
    end_date    TEXT,
    trigger     TEXT    NOT NULL,
    position    INTEGER NOT NULL,
    PRIMARY KEY (generation, stream, ordinal)
) WITHOUT ROWID;
INSERT INTO restriction_index_clustered
SELECT generation, stream,
       row_number() OVER (PARTITION BY generation, stream ORDER BY rowid) - 1,
       department, measure_id, start_date, end_date, trigger, position
FROM restriction_index;
DROP TABLE restriction_index;
ALTER TABLE restriction_index_clustered RENAME TO restriction_index;
CREATE INDEX restriction_index_department ON restriction_index (generation, department, start_date);

CREATE TABLE list_index_clustered (
    generation  INTEGER NOT NULL,
    stream      TEXT    NOT NULL,
    ordinal     INTEGER NOT NULL,
    list        TEXT    NOT NULL,
    ground      TEXT    NOT NULL,
    start_date  TEXT    NOT NULL,
    end_date    TEXT,
    position    INTEGER NOT NULL,
    PRIMARY KEY (generation, stream, ordinal)
) WITHOUT ROWID;
INSERT INTO list_index_clustered
SELECT generation, stream,
       row_number() OVER (PARTITION BY generation, stream ORDER BY rowid) - 1,
       list, ground, start_date, end_date, position
FROM list_index;
DROP TABLE list_index;
ALTER TABLE list_index_clustered RENAME TO list_index;
CREATE INDEX list_index_list ON list_index (generation, list, start_date);

CREATE TABLE disclosures_clustered (
    generation      INTEGER NOT NULL,
    stream          TEXT    NOT NULL,
    ordinal         INTEGER NOT NULL,
    decision_number TEXT    NOT NULL,
    start_date      TEXT    NOT NULL,
    end_date        TEXT,
    position        INTEGER NOT NULL,
    PRIMARY KEY (generation, stream, ordinal)
) WITHOUT ROWID;
INSERT INTO disclosures_clustered
SELECT generation, stream,
       row_number() OVER (PARTITION BY generation, stream ORDER BY rowid) - 1,
       decision_number, start_date, end_date, position
FROM disclosures;
DROP TABLE disclosures;
ALTER TABLE disclosures_clustered RENAME TO disclosures;
CREATE INDEX disclosures_start ON disclosures (generation, start_date);

CREATE TABLE restriction_changes_clustered (
    generation  INTEGER NOT NULL,
    seq         INTEGER NOT NULL,
    department  TEXT    NOT NULL,
    stream      TEXT    NOT NULL,
    measure_id  TEXT    NOT NULL,
    change      TEXT    NOT NULL, -- 'started' or 'ended' or 'withdrawn'
    start_date  TEXT    NOT NULL,
    end_date    TEXT,
    position    INTEGER NOT NULL,
    PRIMARY KEY (generation, seq)
) WITHOUT ROWID;
INSERT INTO restriction_changes_clustered
SELECT generation, seq, department, stream, measure_id, change, start_date, end_date, position
FROM restriction_changes;
DROP TABLE restriction_changes;
ALTER TABLE restriction_changes_clustered RENAME TO restriction_changes;
CREATE INDEX restriction_changes_department ON restriction_changes (generation, department, seq);
