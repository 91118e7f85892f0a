-- The log is indexed by each key's group and revision, where the group of a key /registry/<segment>/... is that
-- prefix, with the slash after the segment, and the group of any other key is empty. An append adds at the end of
-- each group it writes, and a read of one group's keys (a Kubernetes resource) reads that group's rows only. The
-- expression is SqliteKeyQueries.KeyGroup, which reads use verbatim.
CREATE INDEX IF NOT EXISTS kv_log_key_group ON kv_log (
    (CASE WHEN substr(key, 1, 10) = CAST('/registry/' AS BLOB) AND instr(substr(key, 11), CAST('/' AS BLOB)) > 1
          THEN substr(key, 1, 10 + instr(substr(key, 11), CAST('/' AS BLOB))) ELSE x'' END),
    revision);
