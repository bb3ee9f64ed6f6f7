"""The SELECT statements of PostgresStore's reads, built from the query objects.

Each builder returns (SQL, parameters) with `$n` placeholders. They read what the SQLite
store's `queries` read, in the same order: measurements by id, rollups by minute then
target then vantage (text in code point order: the columns are `COLLATE "C"`), incidents
newest first. Rollups in buckets of `step` seconds are summed in SQL as `bucket_rollups`
sums them: counts and outcomes added, latencies averaged weighted by `ok_count`. Rollups
are read from the view `rollups_now`: the stored ones, and those of keys still marked
for a fold recomputed from raw rows (`postgres_rollups`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from netvigil.store.base import IncidentQuery, MeasurementQuery, RollupQuery
from netvigil.store.codec import READ_COLUMNS, ROLLUP_COLUMNS
from netvigil.store.rollup import MINUTE_S, minute_of

__all__ = ["incident_sql", "measurement_sql", "rollup_sql"]


class _Params:
    """Parameters of one statement, each added as the next `$n`."""

    def __init__(self) -> None:
        self.values: list[Any] = []

    def __call__(self, value: Any) -> str:
        self.values.append(value)
        return f"${len(self.values)}"


def _where(clauses: list[str]) -> str:
    return f" WHERE {' AND '.join(clauses)}" if clauses else ""


def _filters(
    p: _Params,
    since: float | None,
    until: float | None,
    query: MeasurementQuery | RollupQuery,
    time_column: str,
) -> list[str]:
    """WHERE clauses for the filters both query kinds share."""
    where: list[str] = []
    if since is not None:
        where.append(f"{time_column} >= {p(since)}")
    if until is not None:
        where.append(f"{time_column} < {p(until)}")
    for column, values in (("target", query.targets), ("vantage", query.vantages)):
        if values is not None:
            where.append(f"{column} = ANY({p(list(values))}::text[])")
    return where


def measurement_sql(query: MeasurementQuery) -> tuple[str, list[Any]]:
    """The SELECT of `READ_COLUMNS` (and its parameters) for `query`'s measurements, by id."""
    p = _Params()
    where = _filters(p, query.since, query.until, query, "ts")
    if query.after_id is not None:
        where.append(f"id > {p(query.after_id)}")
    sql = (
        f"SELECT {READ_COLUMNS} FROM measurements{_where(where)} ORDER BY id LIMIT {p(query.limit)}"
    )
    return sql, p.values


def rollup_sql(query: RollupQuery) -> tuple[str, list[Any]]:
    """The SELECT of `ROLLUP_COLUMNS` (and its parameters) for `query`'s rollups, oldest
    first; a minute is included when it overlaps [since, until)."""
    p = _Params()
    since = None if query.since is None else _whole(minute_of, query.since)
    # a whole minute starts before `until` exactly when it starts before ceil(until)
    until = None if query.until is None else _whole(math.ceil, query.until)
    where = _filters(p, since, until, query, "minute")
    if query.step == MINUTE_S:
        sql = (
            f"SELECT {ROLLUP_COLUMNS} FROM rollups_now{_where(where)}"
            f" ORDER BY minute, target, vantage LIMIT {p(query.limit)}"
        )
        return sql, p.values
    step = int(query.step)

    def weighted_mean(column: str) -> str:
        counted = f"FILTER (WHERE {column} IS NOT NULL AND ok_count > 0)"
        return (
            f"sum({column} * ok_count) {counted}"
            f" / nullif(sum(ok_count) {counted}, 0)::double precision AS {column}"
        )

    sql = (
        f"WITH b AS (SELECT minute - ((minute % {step}) + {step}) % {step} AS bucket, target,"
        f" vantage, count, ok_count, latency_p50_s, latency_p95_s, outcomes"
        f" FROM rollups_now{_where(where)}),"
        " a AS (SELECT bucket, target, vantage, sum(count)::bigint AS count,"
        f" sum(ok_count)::bigint AS ok_count, {weighted_mean('latency_p50_s')},"
        f" {weighted_mean('latency_p95_s')} FROM b GROUP BY 1, 2, 3),"
        " o AS (SELECT bucket, target, vantage, jsonb_object_agg(name, n) AS outcomes FROM"
        " (SELECT b.bucket, b.target, b.vantage, e.key AS name, sum(e.value::bigint) AS n"
        " FROM b, jsonb_each(b.outcomes) AS e GROUP BY 1, 2, 3, 4) AS x GROUP BY 1, 2, 3)"
        " SELECT a.target, a.vantage, a.bucket, a.count, a.ok_count, a.latency_p50_s,"
        " a.latency_p95_s, coalesce(o.outcomes, '{}'::jsonb)"
        " FROM a LEFT JOIN o USING (bucket, target, vantage)"
        f" ORDER BY a.bucket, a.target, a.vantage LIMIT {p(query.limit)}"
    )
    return sql, p.values


def _whole(rounding: Callable[[float], int], t: float) -> int:
    """`t` rounded to a whole second by `rounding`; infinities as far as a BIGINT goes."""
    if math.isnan(t):
        raise ValueError("a query time is NaN")
    if math.isinf(t):
        return _FAR if t > 0 else -_FAR
    return max(-_FAR, min(_FAR, rounding(t)))


_FAR = 2**62


def incident_sql(query: IncidentQuery) -> tuple[str, list[Any]]:
    """The SELECT of the incidents' JSON snapshots (and its parameters) for `query`,
    newest first (by start, then id)."""
    p = _Params()
    where: list[str] = []
    if query.state is not None:
        where.append(f"state = {p(query.state.value)}")
    if query.open_only:
        where.append("state != 'resolved'")
    if query.since is not None:
        where.append(f"(end_ts IS NULL OR end_ts >= {p(query.since)})")
    if query.until is not None:
        where.append(f"start_ts < {p(query.until)}")
    if query.service is not None:
        where.append(f"services @> jsonb_build_array({p(query.service)}::text)")
    if not query.include_withdrawn:
        where.append("NOT (state = 'resolved' AND confirmed_ts IS NULL)")
    sql = (
        f"SELECT data FROM incidents{_where(where)}"
        f" ORDER BY start_ts DESC, id DESC LIMIT {p(query.limit)}"
    )
    return sql, p.values
