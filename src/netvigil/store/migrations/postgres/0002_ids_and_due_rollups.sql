-- Measurement ids are unique whatever their time: `measurements` is partitioned on `ts`,
-- so its primary key (id, ts) alone would store a re-send with the same id and another
-- `ts` twice. Every write inserts the ids into this unpartitioned table first and keeps
-- only the rows whose id was new (netvigil.store.postgres_rows). Ids are forgotten when
-- the day partition of their `ts` is dropped.
CREATE TABLE measurement_ids (
    id TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    ts DOUBLE PRECISION NOT NULL
);

INSERT INTO measurement_ids (id, ts)
SELECT DISTINCT ON (id) id, ts FROM measurements ORDER BY id, ts;

-- The (target, vantage, minute) keys whose rollups must be recomputed from raw rows: a
-- write marks the keys it touched, and the writers fold the marked keys into `rollups`
-- every few seconds (netvigil.store.postgres_rollups). Reads go through `rollups_now`,
-- which recomputes marked keys on the fly: exact as soon as the rows are committed.
CREATE TABLE rollups_due (
    target  TEXT COLLATE "C" NOT NULL,
    vantage TEXT COLLATE "C" NOT NULL,
    minute  BIGINT NOT NULL,
    marks   BIGINT NOT NULL DEFAULT 1,
    PRIMARY KEY (target, vantage, minute)
);

CREATE INDEX rollups_due_minute ON rollups_due (minute);

CREATE VIEW rollups_now AS
SELECT r.target, r.vantage, r.minute, r.count, r.ok_count, r.latency_p50_s, r.latency_p95_s,
       r.outcomes
FROM rollups AS r
WHERE NOT EXISTS (
    SELECT 1 FROM rollups_due AS d
    WHERE d.target = r.target AND d.vantage = r.vantage AND d.minute = r.minute
)
UNION ALL
SELECT d.target, d.vantage, d.minute, a.count, a.ok_count, a.p50, a.p95, o.outcomes
FROM rollups_due AS d
CROSS JOIN LATERAL (
    SELECT count(*) AS count, coalesce(sum(m.ok), 0) AS ok_count,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY m.total_s)
               FILTER (WHERE m.ok = 1 AND m.total_s > '-Infinity' AND m.total_s < 'Infinity') AS p50,
           percentile_cont(0.95) WITHIN GROUP (ORDER BY m.total_s)
               FILTER (WHERE m.ok = 1 AND m.total_s > '-Infinity' AND m.total_s < 'Infinity') AS p95
    FROM measurements AS m
    WHERE m.target = d.target AND m.vantage = d.vantage
      AND m.ts >= d.minute AND m.ts < d.minute + 60
) AS a
CROSS JOIN LATERAL (
    SELECT jsonb_object_agg(x.outcome, x.n) AS outcomes
    FROM (
        SELECT m.outcome, count(*) AS n FROM measurements AS m
        WHERE m.target = d.target AND m.vantage = d.vantage
          AND m.ts >= d.minute AND m.ts < d.minute + 60
        GROUP BY m.outcome
    ) AS x
) AS o
WHERE a.count > 0;
