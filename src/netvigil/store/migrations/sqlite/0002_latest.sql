-- The newest measurement of each (target, vantage), kept whole so that it survives pruning.

CREATE TABLE latest (
    id      TEXT NOT NULL,
    ts      REAL NOT NULL,
    vantage TEXT NOT NULL,
    target  TEXT NOT NULL,
    kind    TEXT NOT NULL,
    ok      INTEGER NOT NULL,
    outcome TEXT NOT NULL,
    phase   TEXT,
    total_s REAL,
    timings TEXT NOT NULL,
    detail  TEXT NOT NULL,
    address TEXT,
    PRIMARY KEY (target, vantage)
) WITHOUT ROWID;

INSERT INTO latest
SELECT id, ts, vantage, target, kind, ok, outcome, phase, total_s, timings, detail, address
FROM (
    SELECT *, row_number() OVER (PARTITION BY target, vantage ORDER BY ts DESC, id DESC) AS rn
    FROM measurements
)
WHERE rn = 1;
