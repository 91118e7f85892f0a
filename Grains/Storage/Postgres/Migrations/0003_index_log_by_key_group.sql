-- The log is indexed by each key's group and revision instead of by key (see KeyGroups): the group of a key
-- /registry/<segment>/... is that prefix, with the slash after the segment, and the group of any other key is empty.
-- An append adds at the end of each group it writes, where the index on keys took an insert at a random place per
-- row; a read of one group's keys (a Kubernetes resource) reads that group's rows only. The expression is
-- PostgresKeyQueries.KeyGroup, which reads use verbatim. The partial index of the rows that attach a lease stays:
-- it names the key groups whose rows the sequencer reads for the leased keys when it activates.
DROP INDEX IF EXISTS kv_log_key_revision;
CREATE INDEX IF NOT EXISTS kv_log_key_group ON kv_log (
    (CASE WHEN substr(key, 1, 10) = '/registry/'::bytea AND position('/'::bytea IN substr(key, 11)) > 1
          THEN substr(key, 1, 10 + position('/'::bytea IN substr(key, 11))) ELSE ''::bytea END),
    revision);
