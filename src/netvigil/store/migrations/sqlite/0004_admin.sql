-- The admin API's tables (netvigil.store.admin_tables): admin tokens, agents added through
-- the API, maintenance mutes and incident notes. `IF NOT EXISTS`: files where an
-- earlier netvigil created them outside the migrations keep them and their rows.
CREATE TABLE IF NOT EXISTS admin_tokens (
    name         TEXT NOT NULL PRIMARY KEY,
    token_sha256 TEXT NOT NULL UNIQUE,
    created      REAL NOT NULL,
    last_used    REAL
);
CREATE TABLE IF NOT EXISTS admin_agents (
    name         TEXT NOT NULL PRIMARY KEY,
    token_sha256 TEXT NOT NULL UNIQUE,
    country      TEXT,
    in_country   INTEGER NOT NULL,
    created      REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS admin_mutes (
    target  TEXT NOT NULL PRIMARY KEY,
    until   REAL NOT NULL,
    note    TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS admin_notes (
    seq      INTEGER PRIMARY KEY,
    incident TEXT NOT NULL,
    kind     TEXT NOT NULL,
    ts       REAL NOT NULL,
    author   TEXT NOT NULL,
    text     TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS admin_notes_incident ON admin_notes (incident, seq);
