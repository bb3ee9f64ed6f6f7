-- The PostgreSQL store (netvigil.store.postgres): the same tables as the SQLite store.
-- Text keys compare in code point order (COLLATE "C"), as SQLite and Python compare them,
-- so ids, targets and vantages sort the same way whatever the database's locale.

-- Raw measurements, partitioned by day on `ts` (netvigil.store.postgres_partitions creates
-- the partitions measurements_YYYYMMDD ahead and on demand, and prune drops them whole).
-- Measurement ids are ULIDs stamped from `ts`: one id has one `ts`, so the primary key
-- (which must hold the partition key) keeps ids unique.
CREATE TABLE measurements (
    id      TEXT COLLATE "C" NOT NULL,
    ts      DOUBLE PRECISION NOT NULL,
    vantage TEXT COLLATE "C" NOT NULL,
    target  TEXT COLLATE "C" NOT NULL,
    kind    TEXT NOT NULL,
    ok      SMALLINT NOT NULL,
    outcome TEXT COLLATE "C" NOT NULL,
    phase   TEXT,
    total_s DOUBLE PRECISION,     -- timings["total"], kept apart for rollups
    timings TEXT NOT NULL,        -- compact JSON object
    detail  TEXT NOT NULL,        -- compact JSON object
    address TEXT,
    PRIMARY KEY (id, ts)
) PARTITION BY RANGE (ts);

CREATE INDEX measurements_target_vantage_ts ON measurements (target, vantage, ts);
CREATE INDEX measurements_ts ON measurements (ts);

-- Per-minute rollups: kept in the transaction that writes their measurements.
CREATE TABLE rollups (
    target        TEXT COLLATE "C" NOT NULL,
    vantage       TEXT COLLATE "C" NOT NULL,
    minute        BIGINT NOT NULL,    -- start of the minute, epoch seconds
    count         BIGINT NOT NULL,
    ok_count      BIGINT NOT NULL,
    latency_p50_s DOUBLE PRECISION,
    latency_p95_s DOUBLE PRECISION,
    outcomes      JSONB NOT NULL,     -- outcome name -> count
    PRIMARY KEY (target, vantage, minute)
);

CREATE INDEX rollups_minute ON rollups (minute);

-- The newest measurement of each (target, vantage), kept whole so that it survives pruning.
CREATE TABLE latest (
    id      TEXT COLLATE "C" NOT NULL,
    ts      DOUBLE PRECISION NOT NULL,
    vantage TEXT COLLATE "C" NOT NULL,
    target  TEXT COLLATE "C" NOT NULL,
    kind    TEXT NOT NULL,
    ok      SMALLINT NOT NULL,
    outcome TEXT NOT NULL,
    phase   TEXT,
    total_s DOUBLE PRECISION,
    timings TEXT NOT NULL,
    detail  TEXT NOT NULL,
    address TEXT,
    PRIMARY KEY (target, vantage)
);

-- Store settings: `pruned_before` (raw rows before it were pruned).
CREATE TABLE meta (
    key   TEXT NOT NULL PRIMARY KEY,
    value DOUBLE PRECISION NOT NULL
);

-- Incidents (the newest snapshot of each, as JSON, plus the columns queries filter on)
-- and their append-only event log.
CREATE TABLE incidents (
    id           TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    state        TEXT NOT NULL,
    cause        TEXT NOT NULL,
    confidence   DOUBLE PRECISION NOT NULL,
    start_ts     DOUBLE PRECISION NOT NULL,
    confirmed_ts DOUBLE PRECISION,
    end_ts       DOUBLE PRECISION,
    updated_ts   DOUBLE PRECISION NOT NULL,
    services     JSONB NOT NULL,      -- array of service names
    data         TEXT NOT NULL        -- Incident.to_json(), compact
);

CREATE INDEX incidents_start ON incidents (start_ts);
CREATE INDEX incidents_open ON incidents (start_ts) WHERE state != 'resolved';

CREATE TABLE incident_events (
    seq        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,  -- append order
    incident   TEXT COLLATE "C" NOT NULL,
    kind       TEXT NOT NULL,
    ts         DOUBLE PRECISION NOT NULL,
    cause      TEXT NOT NULL,
    confidence DOUBLE PRECISION NOT NULL,
    quiet      SMALLINT NOT NULL,
    data       TEXT NOT NULL
);

CREATE INDEX incident_events_incident ON incident_events (incident, seq);

-- The admin API's tables: admin tokens, agents, maintenance mutes and incident notes.
CREATE TABLE admin_tokens (
    name         TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    token_sha256 TEXT NOT NULL UNIQUE,
    created      DOUBLE PRECISION NOT NULL,
    last_used    DOUBLE PRECISION
);
CREATE TABLE admin_agents (
    name         TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    token_sha256 TEXT NOT NULL UNIQUE,
    country      TEXT,
    in_country   SMALLINT NOT NULL,
    created      DOUBLE PRECISION NOT NULL
);
CREATE TABLE admin_mutes (
    target  TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    until   DOUBLE PRECISION NOT NULL,
    note    TEXT NOT NULL,
    created DOUBLE PRECISION NOT NULL
);
CREATE TABLE admin_notes (
    seq      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    incident TEXT COLLATE "C" NOT NULL,
    kind     TEXT NOT NULL,
    ts       DOUBLE PRECISION NOT NULL,
    author   TEXT NOT NULL,
    text     TEXT NOT NULL
);
CREATE INDEX admin_notes_incident ON admin_notes (incident, seq);
