-- Network-level signals (netvigil.signal, netvigil.store.signals): the samples of each
-- entity's series (bgp_visibility, blocks_up, ...) and the control-plane events beside
-- them, kept so the network charts and incident reports survive a restart. Keyed by
-- entity then time: every read asks for one entity over a time range.
CREATE TABLE IF NOT EXISTS signal_samples (
    entity TEXT NOT NULL,
    t      REAL NOT NULL,
    signal TEXT NOT NULL,
    source TEXT NOT NULL,
    value  REAL NOT NULL,
    PRIMARY KEY (entity, t, signal, source)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS signal_events (
    entity      TEXT NOT NULL,
    t           REAL NOT NULL,
    kind        TEXT NOT NULL,
    prefix      TEXT NOT NULL,
    source      TEXT NOT NULL,
    peers       INTEGER NOT NULL,
    peers_total INTEGER NOT NULL,
    detail      TEXT NOT NULL,
    PRIMARY KEY (entity, t, kind, prefix, source)
) WITHOUT ROWID;
