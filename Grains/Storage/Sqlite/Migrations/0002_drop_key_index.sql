-- The log is no longer indexed by key: an append then writes only at the end of the table and of its primary key,
-- however scattered its keys are. Reads by key scan the log instead; they are rare (see SqliteKeyQueries).
DROP INDEX IF EXISTS kv_log_key_revision;
