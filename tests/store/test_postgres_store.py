"""PostgresStore specifics: day partitions and prunes, the COPY path, a server restart,
bad DSNs, schema versions, and opening it from the config."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from pydantic import SecretStr

from netvigil.config.model import StoreConfig
from netvigil.errors import StoreError
from netvigil.incident import EventKind, IncidentEvent
from netvigil.model import Measurement
from netvigil.store import MeasurementQuery, RollupQuery
from netvigil.store.open import open_store, store_name
from netvigil.store.postgres import PostgresStore
from netvigil.store.postgres_options import PostgresOptions
from netvigil.store.postgres_partitions import DAY_S, partition_name
from netvigil.store.postgres_schema import SCHEMA_VERSION, migrate, redact_dsn
from netvigil.store.writer_settings import WriterSettings
from netvigil.web.tokens import call_blocking, create_admin_token, hash_token
from servers.postgres import PostgresServer
from servers.tcp import free_port

from .helpers import T0, make_measurement
from .test_contract import assert_rollups_equal, by_id, expected_rollups
from .test_incidents import make_incident

ALL = MeasurementQuery(limit=1_000_000)
ALL_ROLLUPS = RollupQuery(limit=1_000_000)
DAY0 = int(T0 // DAY_S) * DAY_S


@pytest.fixture
async def dsn(postgres_server: PostgresServer, tmp_path: Path) -> str:
    return await postgres_server.database_for(tmp_path)


@pytest.fixture
async def pg(dsn: str) -> AsyncIterator[PostgresStore]:
    store = await PostgresStore.open(dsn)
    try:
        yield store
    finally:
        await store.close()


async def partitions(dsn: str) -> list[str]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT c.relname FROM pg_inherits AS i JOIN pg_class AS c ON c.oid = i.inhrelid"
            " WHERE i.inhparent = 'measurements'::regclass ORDER BY 1"
        )
    finally:
        await conn.close()
    return [r[0] for r in rows]


async def test_partitions_are_created_ahead_and_on_demand(dsn: str) -> None:
    now = T0 + 10 * DAY_S
    store = await PostgresStore.open(dsn, now=lambda: now, options=PostgresOptions(days_ahead=2))
    try:
        today = int(now // DAY_S) * DAY_S
        ahead = [partition_name(today + k * DAY_S) for k in range(3)]
        assert await partitions(dsn) == ahead
        late, early = make_measurement(T0), make_measurement(now + 30 * DAY_S)
        assert await store.add([late, early]) == 2
        made = sorted([*ahead, partition_name(DAY0), partition_name(today + 30 * DAY_S)])
        assert await partitions(dsn) == made
        assert await store.measurements(ALL) == by_id([late, early])
    finally:
        await store.close()


async def test_prune_drops_whole_days_and_deletes_only_in_the_straddling_day(
    pg: PostgresStore, dsn: str
) -> None:
    days = [[make_measurement(DAY0 + d * DAY_S + h * 3600.0) for h in range(24)] for d in range(4)]
    await pg.add([m for day in days for m in day])
    before = await pg.rollups(ALL_ROLLUPS)
    names = [partition_name(DAY0 + d * DAY_S) for d in range(4)]
    assert set(names) <= set(await partitions(dsn))
    cut = DAY0 + 2 * DAY_S + 6 * 3600.0  # day 2 at 06:00: days 0 and 1 go whole
    assert await pg.prune(cut) == 24 + 24 + 6
    left = await partitions(dsn)
    assert names[0] not in left
    assert names[1] not in left
    assert names[2] in left
    assert names[3] in left
    assert await pg.measurements(ALL) == by_id([m for m in days[2] + days[3] if m.ts >= cut])
    assert await pg.rollups(ALL_ROLLUPS) == before
    assert await pg.prune(cut) == 0
    # a row for a dropped day is written again (its partition made anew) and counted
    again = make_measurement(DAY0 + 30.0, ok=False)
    assert await pg.add([again]) == 1
    first = (await pg.rollups(RollupQuery(until=DAY0 + 60)))[0]
    assert (first.count, first.ok_count) == (2, 1)


async def test_copy_skips_ids_already_stored_and_duplicates_in_the_batch(pg: PostgresStore) -> None:
    batch = [make_measurement(T0 + i * 0.01, target=f"t{i % 7}") for i in range(5_000)]
    assert await pg.add(batch) == 5_000
    stored = await pg.rollups(ALL_ROLLUPS)
    assert await pg.add(batch) == 0
    assert await pg.add(batch[::-1]) == 0
    extra = [make_measurement(T0 + 49.5 + i * 0.01, target="t1") for i in range(10)]
    mixed = [*batch[:100], *extra, *extra, *batch[100:200]]
    assert await pg.add(mixed) == 10
    assert len(await pg.measurements(ALL)) == 5_010
    assert_rollups_equal(await pg.rollups(ALL_ROLLUPS), expected_rollups(batch + extra))
    assert (await pg.rollups(ALL_ROLLUPS)) != stored  # t1's last minute grew by 10


async def test_an_id_sent_again_with_another_time_is_stored_once(pg: PostgresStore) -> None:
    first = make_measurement(T0 + 5)
    assert await pg.add([first]) == 1
    same_day = make_measurement(T0 + 125, id=first.id)
    next_day = make_measurement(T0 + DAY_S, id=first.id)
    assert await pg.add([same_day, next_day]) == 0
    pg.submit(make_measurement(T0 + 2 * DAY_S, id=first.id))
    await pg.flush()
    assert await pg.measurements(ALL) == [first]
    assert_rollups_equal(await pg.rollups(ALL_ROLLUPS), expected_rollups([first]))


async def test_a_stored_row_whose_id_was_forgotten_is_not_stored_twice(
    pg: PostgresStore, dsn: str
) -> None:
    # A row of an early version can be in `measurements` without its id in
    # `measurement_ids`: the group commit's plain insert fails on it, and the batch
    # written again alone skips it.
    old = make_measurement(T0 + 5)
    assert await pg.add([old]) == 1
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("DELETE FROM measurement_ids WHERE id = $1", old.id)
    finally:
        await conn.close()
    new = make_measurement(T0 + 6)
    assert await pg.add([old, new]) == 1  # `old`'s id is new to measurement_ids only
    assert sorted(m.id for m in await pg.measurements(ALL)) == sorted([old.id, new.id])


async def test_rollups_read_before_a_fold_are_exact_and_the_fold_stores_them(dsn: str) -> None:
    slow = PostgresOptions(fold_every_s=3600.0)
    batch = [make_measurement(T0 + i * 0.5, target=f"t{i % 3}", ok=i % 5 > 0) for i in range(300)]
    async with await PostgresStore.open(dsn, options=slow) as store:
        for at in range(0, 300, 50):
            await store.add(batch[at : at + 50])
        marked = await store.rollups(ALL_ROLLUPS)
        conn = await asyncpg.connect(dsn)
        try:
            stale = await conn.fetchval("SELECT sum(count) FROM rollups")
            assert await conn.fetchval("SELECT count(*) FROM rollups_due") > 0
        finally:
            await conn.close()
    assert_rollups_equal(marked, expected_rollups(batch))
    assert stale < len(batch)  # the table alone is behind: the marks tell what to recompute
    conn = await asyncpg.connect(dsn)
    try:  # the writer folded them on stop
        assert await conn.fetchval("SELECT count(*) FROM rollups_due") == 0
        assert await conn.fetchval("SELECT count(*) FROM rollups") == 9
    finally:
        await conn.close()
    async with await PostgresStore.open(dsn) as store:
        assert await store.rollups(ALL_ROLLUPS) == marked


async def test_two_stores_writing_the_same_keys_at_once_count_every_row(dsn: str) -> None:
    rows = [make_measurement(T0 + i * 0.05, target=f"t{i % 4}", ok=i % 7 > 0) for i in range(2_400)]
    fast = PostgresOptions(fold_every_s=0.05)
    async with (
        await PostgresStore.open(dsn, options=fast) as one,
        await PostgresStore.open(dsn, options=fast) as other,
    ):

        async def write(store: PostgresStore, part: list[Measurement]) -> None:
            for at in range(0, len(part), 100):
                await store.add(part[at : at + 100])

        await asyncio.gather(write(one, rows[0::2]), write(other, rows[1::2]))
        assert_rollups_equal(await one.rollups(ALL_ROLLUPS), expected_rollups(rows))
    async with await PostgresStore.open(dsn) as store:  # reopened: the same numbers
        assert_rollups_equal(await store.rollups(ALL_ROLLUPS), expected_rollups(rows))


async def test_submitted_and_added_duplicates_count_once(pg: PostgresStore) -> None:
    ms = [make_measurement(T0 + i, vantage=f"v{i % 2}") for i in range(40)]
    for m in ms:
        pg.submit(m)
    assert await pg.add(ms[:20]) == 0  # submitted before: stored in order first
    for m in ms[10:30]:
        pg.submit(m)
    await pg.flush()
    assert await pg.measurements(ALL) == by_id(ms)
    assert_rollups_equal(await pg.rollups(ALL_ROLLUPS), expected_rollups(ms))


async def test_a_server_restart_loses_nothing_submitted(
    postgres_server: PostgresServer, dsn: str
) -> None:
    settings = WriterSettings(group_commit_s=0.05, retry_every_s=0.1)
    options = PostgresOptions(max_retry_s=0.5, connect_timeout_s=2.0)
    store = await PostgresStore.open(dsn, settings=settings, options=options)
    try:
        first = [make_measurement(T0 + i * 0.1) for i in range(50)]
        for m in first:
            store.submit(m)
        await store.flush()
        restarting = asyncio.create_task(asyncio.to_thread(postgres_server.restart))
        during = []
        kinds = [EventKind.OPENED, EventKind.CONFIRMED, EventKind.UPDATED, EventKind.RESOLVED]
        while not restarting.done():
            m = make_measurement(T0 + 10 + len(during) * 0.1)
            store.submit(m)
            during.append(m)
            if len(during) % 5 == 0 and len(during) // 5 <= len(kinds):
                kind = kinds[len(during) // 5 - 1]
                event = IncidentEvent(kind, m.ts, make_incident(1, start=T0 + 10))
                store.submit_incident_event(event)
            await asyncio.sleep(0.01)
        await restarting
        after = [make_measurement(T0 + 100 + i * 0.1) for i in range(50)]
        for m in after:
            store.submit(m)
        deadline = time.monotonic() + 30
        while (store.failing or store.pending) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await store.flush()
        everything = first + during + after
        assert store.write_failures >= 1
        assert store.dropped == 0
        assert len(during) > 0
        assert await store.measurements(ALL) == by_id(everything)
        assert_rollups_equal(await store.rollups(ALL_ROLLUPS), expected_rollups(everything))
        events = await store.incident_events("inc-1")
        assert [e.kind for e in events] == kinds[: len(events)]
        assert len(events) == min(len(during) // 5, len(kinds))
    finally:
        await store.close()


async def test_close_gives_up_in_time_while_the_server_is_away(
    postgres_server: PostgresServer, dsn: str, caplog: pytest.LogCaptureFixture
) -> None:
    settings = WriterSettings(group_commit_s=0.05, retry_every_s=0.1, close_timeout_s=1.0)
    options = PostgresOptions(max_retry_s=0.2, connect_timeout_s=0.5)
    store = await PostgresStore.open(dsn, settings=settings, options=options)
    try:
        await asyncio.to_thread(postgres_server.stop)
        for i in range(10):
            store.submit(make_measurement(T0 + i))
        deadline = time.monotonic() + 10
        while store.write_failures < 3 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert store.write_failures >= 3  # tried again and again, a bounded wait apart
        with pytest.raises(StoreError, match="cannot write now"):
            await store.flush()  # a caller is refused at once while the server is away
        started = time.monotonic()
        await store.close()
        assert time.monotonic() - started < 5
        assert "10 measurements and 0 incident events not written" in caplog.text
    finally:
        await asyncio.to_thread(postgres_server.restart)


async def test_a_server_that_is_not_there_is_a_store_error_without_the_password() -> None:
    dsn = f"postgresql://netvigil:hunter2@127.0.0.1:{free_port()}/netvigil"
    options = PostgresOptions(connect_timeout_s=2.0)
    with pytest.raises(StoreError) as info:
        await PostgresStore.open(dsn, options=options)
    message = str(info.value)
    assert "hunter2" not in message
    assert "postgresql://netvigil@127.0.0.1" in message
    assert "cannot connect" in message


async def test_an_unknown_database_is_a_store_error(postgres_server: PostgresServer) -> None:
    dsn = postgres_server.dsn("no_such_database", password="s3cret-pw")
    with pytest.raises(StoreError, match="no_such_database") as info:
        await PostgresStore.open(dsn)
    assert "s3cret-pw" not in str(info.value)


def test_a_dsn_is_shown_without_its_password() -> None:
    shown = redact_dsn("postgresql://nv:pa%40ss@db.example:5433/netvigil?sslmode=require")
    assert shown == "postgresql://nv@db.example:5433/netvigil"
    assert redact_dsn("postgresql://[::1]/nv") == "postgresql://[::1]/nv"


async def test_processes_opening_a_new_database_at_once_all_migrate_it(dsn: str) -> None:
    # Several processes (two detectors, a collector) started together on a new database.
    async def one() -> int:
        conn = await asyncpg.connect(dsn)
        try:
            return await migrate(conn)
        finally:
            await conn.close()

    had = await asyncio.gather(*(one() for _ in range(4)))
    assert sorted(had)[0] == 0 and sorted(had)[1:] == [SCHEMA_VERSION] * 3
    conn = await asyncpg.connect(dsn)
    try:
        steps = await conn.fetch("SELECT version FROM netvigil_schema ORDER BY 1")
    finally:
        await conn.close()
    assert [r[0] for r in steps] == list(range(1, SCHEMA_VERSION + 1))


async def test_a_newer_schema_is_refused(dsn: str) -> None:
    store = await PostgresStore.open(dsn)
    await store.close()
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("INSERT INTO netvigil_schema (version) VALUES ($1)", SCHEMA_VERSION + 1)
    finally:
        await conn.close()
    with pytest.raises(StoreError, match="newer than this netvigil supports"):
        await PostgresStore.open(dsn)


async def test_the_config_opens_the_configured_backend(dsn: str, tmp_path: Path) -> None:
    config = StoreConfig(kind="postgres", dsn=SecretStr(dsn), retention_days=7)
    async with await open_store(config) as store:
        assert isinstance(store, PostgresStore)
        assert store.retention_s == 7 * 86_400
        assert store_name(store) == redact_dsn(dsn)
        assert await store.add([make_measurement(T0)]) == 1
    sqlite = StoreConfig(path="unused.db")
    async with await open_store(sqlite, path=tmp_path / "nv.db") as store:
        assert store_name(store) == str(tmp_path / "nv.db")


async def test_calls_from_another_event_loop_work(pg: PostgresStore) -> None:
    await pg.set_mute("tax", 1.0, "swap")
    # a setup call made through asyncio.run in a thread, as the web app makes them
    assert [m.target for m in call_blocking(pg.mutes)] == ["tax"]
    token = create_admin_token(pg, "ops")
    assert await pg.use_admin_token(hash_token(token)) == "ops"
    # a write from a thread's own loop while the store's loop runs
    m = make_measurement(T0)
    assert await asyncio.to_thread(asyncio.run, pg.add([m])) == 1
    assert await pg.measurements(ALL) == [m]
