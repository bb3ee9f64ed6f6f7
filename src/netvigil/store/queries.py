"""The SELECT statements of SQLiteStore's reads, built from the query objects.

Each builder returns (SQL, parameters). Rollup reads by target seek each (target,
vantage) by its primary key's minute range; reads with `step` over a minute sum the
rows into buckets in SQL. `MEASUREMENT_JSON` and `ROLLUP_JSON` are column lists that
have SQLite write each row as JSON text (for the API's fast paths).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from netvigil.store.base import IncidentQuery, MeasurementQuery, RollupQuery
from netvigil.store.rollup import MINUTE_S, minute_of

__all__ = ["MEASUREMENT_JSON", "ROLLUP_JSON", "incident_sql", "measurement_sql", "rollup_sql"]


def _json_float(column: str) -> str:
    """SQL writing a REAL column as a JSON number that reads back exactly (or null)."""
    return f"CASE WHEN {column} IS NULL THEN 'null' ELSE printf('%!.17g', {column}) END"


ROLLUP_JSON = (
    'minute, printf(\'{"minute":%d,"target":%s,"vantage":%s,"count":%d,'
    '"ok_count":%d,"success_ratio":%!.17g,"latency_p50_s":%s,"latency_p95_s":%s,'
    '"outcomes":%s}\', minute, json_quote(target), json_quote(vantage), count, ok_count,'
    " CASE WHEN count THEN CAST(ok_count AS REAL) / count ELSE 0.0 END,"
    f" {_json_float('latency_p50_s')}, {_json_float('latency_p95_s')}, outcomes)"
)
"""(minute, the rollup as a JSON object), for `rollups_json`."""
MEASUREMENT_JSON = (
    'id, printf(\'{"id":%s,"ts":%!.17g,"vantage":%s,"target":%s,"kind":%s,'
    '"ok":%s,"outcome":%s,"phase":%s,"timings":%s,"detail":%s,"address":%s}\','
    " json_quote(id), ts, json_quote(vantage), json_quote(target), json_quote(kind),"
    " CASE WHEN ok THEN 'true' ELSE 'false' END, json_quote(outcome), json_quote(phase),"
    " timings, detail, json_quote(address))"
)
"""(id, the measurement as a JSON object), for `measurements_json`."""
_DISTINCT = "(SELECT DISTINCT value FROM json_each(?))"


def _filters(
    since: float | None,
    until: float | None,
    query: MeasurementQuery | RollupQuery,
    time_column: str,
) -> tuple[list[str], list[Any]]:
    """WHERE clauses and parameters for the filters both query kinds share."""
    where: list[str] = []
    params: list[Any] = []
    if since is not None:
        where.append(f"{time_column} >= ?")
        params.append(since)
    if until is not None:
        where.append(f"{time_column} < ?")
        params.append(until)
    for column, values in (("target", query.targets), ("vantage", query.vantages)):
        if values is not None:
            where.append(f"{column} IN (SELECT value FROM json_each(?))")
            params.append(json.dumps(list(values)))
    return where, params


def measurement_sql(query: MeasurementQuery, columns: str) -> tuple[str, list[Any]]:
    """The SELECT of `columns` (and its parameters) for `query`'s measurements, by id."""
    where, params = _filters(query.since, query.until, query, "ts")
    if query.after_id is not None:
        where.append("id > ?")
        params.append(query.after_id)
    table = "measurements"
    timed = query.since is not None or query.until is not None
    if timed and query.targets is None and query.after_id is None:
        table += " INDEXED BY measurements_ts"  # else SQLite scans from the oldest id
    sql = f"SELECT {columns} FROM {table}{_where(where)} ORDER BY id LIMIT ?"
    return sql, [*params, query.limit]


def rollup_sql(query: RollupQuery, columns: str) -> tuple[str, list[Any]]:
    """The SELECT of `columns` (and its parameters) for `query`'s rollups, oldest first.

    With targets named, each (target, vantage) is read by its primary key's minute range,
    so the cost follows the range asked for, not the target's whole history (and SQLite
    never walks the minute index over every target). Without vantages named, a target's
    vantages are found with one primary-key seek each. With `step` over a minute the
    rows are summed into buckets in SQL (`_bucketed`), as `bucket_rollups` does.
    """
    since = None if query.since is None else minute_of(query.since)
    if query.targets is None:
        where, params = _filters(since, query.until, query, "minute")
        if query.step != MINUTE_S:
            return _bucketed(
                "", [], f"SELECT * FROM rollups{_where(where)}", params, query, columns
            )
        sql = (
            f"SELECT {columns} FROM rollups{_where(where)} ORDER BY minute, target, vantage LIMIT ?"
        )
        return sql, [*params, query.limit]
    pairs: list[Any] = [json.dumps(list(query.targets))]
    if query.vantages is not None:
        cte = f"pair(pt, pv) AS (SELECT t.value, v.value FROM {_DISTINCT} AS t, {_DISTINCT} AS v)"
        pairs.append(json.dumps(list(query.vantages)))
    else:
        cte = (
            "RECURSIVE pair(pt, pv) AS ("
            "SELECT t.value, (SELECT min(vantage) FROM rollups WHERE target = t.value)"
            f" FROM {_DISTINCT} AS t"
            " UNION ALL SELECT p.pt, (SELECT min(vantage) FROM rollups"
            " WHERE target = p.pt AND vantage > p.pv)"
            " FROM pair AS p WHERE p.pv IS NOT NULL)"
        )
    where, params = _filters(since, query.until, RollupQuery(), "r.minute")
    joined = "pair AS p CROSS JOIN rollups AS r ON r.target = p.pt AND r.vantage = p.pv"
    if query.step != MINUTE_S:
        source = f"SELECT r.* FROM {joined}{_where(where)}"
        return _bucketed(f"{cte}, ", pairs, source, params, query, columns)
    sql = (
        f"WITH {cte} SELECT {columns} FROM {joined}{_where(where)}"
        " ORDER BY r.minute, r.target, r.vantage LIMIT ?"
    )
    return sql, [*pairs, *params, query.limit]


def _bucketed(
    ctes: str,
    cte_params: list[Any],
    source: str,
    params: list[Any],
    query: RollupQuery,
    columns: str,
) -> tuple[str, list[Any]]:
    """The SELECT of `columns` over the rollup rows of `source` summed into `query.step`
    buckets: counts and outcomes added, latencies averaged weighted by `ok_count`.

    One scan groups the minutes by bucket and by their outcomes text (a bucket of a
    steady target holds one or two distinct texts), so outcomes are parsed once per
    distinct text, not once per minute; the groups are then summed per bucket.
    """
    step = int(query.step)

    def weighted(column: str) -> str:
        return (
            f"sum({column} * ok_count) AS {column}_sum,"
            f" sum(CASE WHEN {column} IS NOT NULL THEN ok_count END) AS {column}_weight"
        )

    def mean(column: str) -> str:
        return f"sum({column}_sum) / nullif(sum({column}_weight), 0) AS {column}"

    sql = (
        f"WITH {ctes}g AS MATERIALIZED (SELECT minute / {step} * {step} AS minute, target,"
        " vantage, outcomes, count(*) AS times, sum(count) AS count, sum(ok_count) AS ok_count,"
        f" {weighted('latency_p50_s')}, {weighted('latency_p95_s')}"
        f" FROM ({source}) GROUP BY 1, 2, 3, 4),"
        " a AS (SELECT minute, target, vantage, sum(count) AS count, sum(ok_count) AS ok_count,"
        f" {mean('latency_p50_s')}, {mean('latency_p95_s')} FROM g GROUP BY 1, 2, 3),"
        " o AS (SELECT minute, target, vantage, json_group_object(name, n) AS outcomes FROM"
        " (SELECT g.minute, g.target, g.vantage, j.key AS name, sum(j.value * g.times) AS n"
        " FROM g, json_each(g.outcomes) AS j GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4)"
        " GROUP BY 1, 2, 3)"
        f" SELECT {columns} FROM (SELECT a.*, coalesce(o.outcomes, '{{}}') AS outcomes"
        " FROM a LEFT JOIN o USING (minute, target, vantage))"
        " ORDER BY minute, target, vantage LIMIT ?"
    )
    return sql, [*cte_params, *params, query.limit]


def _where(clauses: Iterable[str]) -> str:
    joined = " AND ".join(clauses)
    return f" WHERE {joined}" if joined else ""


def incident_sql(query: IncidentQuery) -> tuple[str, list[Any]]:
    """The SELECT of the incidents' JSON snapshots (and its parameters) for `query`,
    newest first (by start, then id)."""
    where: list[str] = []
    params: list[Any] = []
    if query.state is not None:
        where.append("state = ?")
        params.append(query.state.value)
    if query.open_only:
        where.append("state != 'resolved'")
    if query.since is not None:
        where.append("(end_ts IS NULL OR end_ts >= ?)")
        params.append(query.since)
    if query.until is not None:
        where.append("start_ts < ?")
        params.append(query.until)
    if query.service is not None:
        where.append("EXISTS (SELECT 1 FROM json_each(services) WHERE value = ?)")
        params.append(query.service)
    if not query.include_withdrawn:
        where.append("NOT (state = 'resolved' AND confirmed_ts IS NULL)")
    sql = f"SELECT data FROM incidents{_where(where)} ORDER BY start_ts DESC, id DESC LIMIT ?"
    return sql, [*params, query.limit]
