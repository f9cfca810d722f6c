-- The department index of restrictions becomes an index of each generation's own, partial
-- (`WHERE generation = N`) and by (department, stream), built by the store when a rebuilt
-- generation is swapped in, and for the active generation when a store first reads the
-- projection's state (`GENERATION_INDEXES` in src/projections.rs). A rebuild then loads its
-- rows with no department index to keep up, which was about a third of the time it spent
-- writing, and the index is built once, sorted, from the loaded rows. By stream, because a
-- department's restrictions are read a page at a time in stream order from a cursor.
--
-- The list and disclosure indexes go without a successor: no statement reads through them (the
-- reads page along each table's key, by stream).
DROP INDEX restriction_index_department;
DROP INDEX list_index_list;
DROP INDEX disclosures_start;
