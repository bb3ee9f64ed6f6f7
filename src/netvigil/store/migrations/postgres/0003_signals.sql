-- Network-level signals (netvigil.signal, netvigil.store.signals): the samples of each
-- entity's series and the control-plane events beside them, as in the SQLite store.
CREATE TABLE signal_samples (
    entity TEXT COLLATE "C" NOT NULL,
    t      DOUBLE PRECISION NOT NULL,
    signal TEXT COLLATE "C" NOT NULL,
    source TEXT COLLATE "C" NOT NULL,
    value  DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (entity, t, signal, source)
);
CREATE TABLE signal_events (
    entity      TEXT COLLATE "C" NOT NULL,
    t           DOUBLE PRECISION NOT NULL,
    kind        TEXT COLLATE "C" NOT NULL,
    prefix      TEXT COLLATE "C" NOT NULL,
    source      TEXT COLLATE "C" NOT NULL,
    peers       INTEGER NOT NULL,
    peers_total INTEGER NOT NULL,
    detail      TEXT NOT NULL,
    PRIMARY KEY (entity, t, kind, prefix, source)
);
