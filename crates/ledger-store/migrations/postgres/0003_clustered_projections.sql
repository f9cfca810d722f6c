-- Each entity's projection rows get their place in the entity's list, as on SQLite, where the
-- column is part of the clustered key (see the SQLite migration of the same name). Here the
-- (generation, stream) indexes stay; the column only keeps the statements the same.

ALTER TABLE restriction_index ADD COLUMN ordinal BIGINT NOT NULL DEFAULT 0;
ALTER TABLE list_index ADD COLUMN ordinal BIGINT NOT NULL DEFAULT 0;
ALTER TABLE disclosures ADD COLUMN ordinal BIGINT NOT NULL DEFAULT 0;
