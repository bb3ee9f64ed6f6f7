-- Incidents (the newest snapshot of each, as JSON, plus the columns queries filter on)
-- and their append-only event log.

CREATE TABLE incidents (
    id           TEXT NOT NULL PRIMARY KEY,
    state        TEXT NOT NULL,      -- suspected | confirmed | resolved
    cause        TEXT NOT NULL,
    confidence   REAL NOT NULL,
    start_ts     REAL NOT NULL,      -- the first bad measurement
    confirmed_ts REAL,              -- NULL while suspected (and for withdrawn incidents)
    end_ts       REAL,              -- NULL while open
    updated_ts   REAL NOT NULL,
    services     TEXT NOT NULL,      -- JSON array of service names
    data         TEXT NOT NULL       -- Incident.to_json(), compact
) WITHOUT ROWID;

CREATE INDEX incidents_start ON incidents (start_ts);
CREATE INDEX incidents_open ON incidents (start_ts) WHERE state != 'resolved';

CREATE TABLE incident_events (
    seq        INTEGER PRIMARY KEY,  -- append order
    incident   TEXT NOT NULL,
    kind       TEXT NOT NULL,        -- opened | confirmed | cause_changed | updated | resolved
    ts         REAL NOT NULL,
    cause      TEXT NOT NULL,
    confidence REAL NOT NULL,
    quiet      INTEGER NOT NULL,
    data       TEXT NOT NULL         -- the incident snapshot at that moment (Incident.to_json())
);

CREATE INDEX incident_events_incident ON incident_events (incident, seq);
