-- Raw measurements, per-minute rollups and store settings.
-- Measurement ids are ULIDs (they sort by time), so the clustered primary key appends.

CREATE TABLE measurements (
    id      TEXT NOT NULL PRIMARY KEY,
    ts      REAL NOT NULL,
    vantage TEXT NOT NULL,
    target  TEXT NOT NULL,
    kind    TEXT NOT NULL,
    ok      INTEGER NOT NULL,
    outcome TEXT NOT NULL,
    phase   TEXT,
    total_s REAL,            -- timings["total"], kept apart for rollups
    timings TEXT NOT NULL,   -- compact JSON object
    detail  TEXT NOT NULL,   -- compact JSON object
    address TEXT
) WITHOUT ROWID;

CREATE INDEX measurements_target_vantage_ts ON measurements (target, vantage, ts);
CREATE INDEX measurements_ts ON measurements (ts);

CREATE TABLE rollups (
    target        TEXT NOT NULL,
    vantage       TEXT NOT NULL,
    minute        INTEGER NOT NULL,   -- start of the minute, epoch seconds
    count         INTEGER NOT NULL,
    ok_count      INTEGER NOT NULL,
    latency_p50_s REAL,
    latency_p95_s REAL,
    outcomes      TEXT NOT NULL,      -- JSON object: outcome name -> count
    PRIMARY KEY (target, vantage, minute)
) WITHOUT ROWID;

CREATE INDEX rollups_minute ON rollups (minute);

CREATE TABLE meta (
    key   TEXT NOT NULL PRIMARY KEY,
    value
) WITHOUT ROWID;
