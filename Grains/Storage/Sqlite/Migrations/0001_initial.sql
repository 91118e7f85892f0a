-- The MVCC log: one row per key written by a revision, in (revision, sub) order. Rows are only ever appended
-- and, below the compaction revision, purged. Keys and values are BLOBs so that keys compare as unsigned bytes.
CREATE TABLE kv_log (
    revision        INTEGER NOT NULL,
    sub             INTEGER NOT NULL,
    key             BLOB    NOT NULL,
    create_revision INTEGER NOT NULL,
    version         INTEGER NOT NULL,
    lease           INTEGER NOT NULL,
    value           BLOB    NOT NULL,
    tombstone       INTEGER NOT NULL,
    prev_revision   INTEGER NOT NULL,
    range_id        TEXT    NOT NULL,
    range_epoch     INTEGER NOT NULL,
    PRIMARY KEY (revision, sub)
) STRICT;

CREATE INDEX kv_log_key_revision ON kv_log (key, revision);

-- The single metadata row. Appends move current_revision under a fence on sequencer_epoch.
CREATE TABLE meta (
    id               INTEGER PRIMARY KEY CHECK (id = 1),
    current_revision INTEGER NOT NULL,
    compact_revision INTEGER NOT NULL,
    sequencer_epoch  INTEGER NOT NULL,
    lease_expiry     INTEGER NOT NULL,
    last_batch_id    INTEGER NOT NULL
) STRICT;

INSERT INTO meta (id, current_revision, compact_revision, sequencer_epoch, lease_expiry, last_batch_id)
VALUES (1, 1, 0, 0, 0, 0);

-- The owner epoch of each key range.
CREATE TABLE range_owner (
    range_id TEXT    NOT NULL PRIMARY KEY,
    epoch    INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- Granted leases with their TTL and the last checkpoint of the remaining TTL, in seconds.
CREATE TABLE leases (
    id            INTEGER NOT NULL PRIMARY KEY,
    ttl           INTEGER NOT NULL,
    remaining_ttl INTEGER NOT NULL
) STRICT;
