-- The MVCC log: one row per key written by a revision, in (revision, sub) order. Rows are only ever appended
-- and, below the compaction revision, purged. Keys and values are bytea, which compares as unsigned bytes.
CREATE TABLE kv_log (
    revision        bigint  NOT NULL,
    sub             integer NOT NULL,
    key             bytea   NOT NULL,
    create_revision bigint  NOT NULL,
    version         bigint  NOT NULL,
    lease           bigint  NOT NULL,
    value           bytea   NOT NULL,
    tombstone       boolean NOT NULL,
    prev_revision   bigint  NOT NULL,
    range_id        text    NOT NULL,
    range_epoch     bigint  NOT NULL,
    PRIMARY KEY (revision, sub)
);

-- Drives key-range reads at a revision and the newest-row probes.
CREATE INDEX kv_log_key_revision ON kv_log (key, revision DESC);

-- Only the rows that attach a lease, so that listing the leased keys does not scan the log.
CREATE INDEX kv_log_leased ON kv_log (key, revision DESC) WHERE lease <> 0 AND NOT tombstone;

-- The single metadata row. Appends move current_revision under a fence on sequencer_epoch and record the
-- batch id, which is how a commit of unknown outcome is recognised. lease_expiry is the sequencer's time
-- lease in the store's clock.
CREATE TABLE meta (
    id               integer     PRIMARY KEY CHECK (id = 1),
    current_revision bigint      NOT NULL,
    compact_revision bigint      NOT NULL,
    sequencer_epoch  bigint      NOT NULL,
    lease_expiry     timestamptz NOT NULL,
    last_batch_id    bigint      NOT NULL
);

INSERT INTO meta (id, current_revision, compact_revision, sequencer_epoch, lease_expiry, last_batch_id)
VALUES (1, 1, 0, 0, '-infinity', 0);

-- The owner epoch of each key range; ids sort by code point whatever the database's collation.
CREATE TABLE range_owner (
    range_id text COLLATE "C" PRIMARY KEY,
    epoch    bigint           NOT NULL
);

-- Granted leases with their TTL and the last checkpoint of the remaining TTL, in seconds.
CREATE TABLE leases (
    id            bigint PRIMARY KEY,
    ttl           bigint NOT NULL,
    remaining_ttl bigint NOT NULL
);
