"""JetStream key-value buckets: open one, making it first if it does not exist; read what a
new watcher of one starts with."""

from __future__ import annotations

from typing import Any

from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig
from nats.js.errors import BadRequestError, BucketNotFoundError
from nats.js.kv import KeyValue

__all__ = ["key_value_bucket", "watched_snapshot"]


async def key_value_bucket(js: JetStreamContext, config: KeyValueConfig) -> KeyValue:
    """The bucket `config.bucket`, made with `config` when it does not exist yet. Another
    process making it at the same moment is no error: the bucket it made is opened (with
    that process's settings). NATS errors pass through to the caller."""
    assert config.bucket is not None
    try:
        return await js.key_value(config.bucket)
    except BucketNotFoundError:
        try:
            return await js.create_key_value(config)
        except BadRequestError:  # another process made it first
            return await js.key_value(config.bucket)


async def watched_snapshot(
    js: JetStreamContext, bucket: str, watcher: Any, *, timeout_s: float
) -> list[KeyValue.Entry]:
    """What `watcher`, just made by `watchall()` on `bucket` (deletes not ignored), delivers
    before any later change: the newest entry of every key, delete markers included.

    nats-py's watcher ends its snapshot with a None marker, but puts that marker first when
    the server's answer to how much was pending (nothing: all of it was on its way) came in
    before the entries themselves: read under load, a full bucket once read as empty. Here
    the snapshot ends at the entry with nothing pending after it, and at the marker only
    while the bucket holds no message.
    Raises nats.errors.TimeoutError when nothing comes for `timeout_s`.
    """
    held = (await js.stream_info(f"KV_{bucket}")).state.messages
    entries: list[KeyValue.Entry] = []
    while True:
        entry = await watcher.updates(timeout=timeout_s)
        if entry is None:
            if held == 0:
                return entries
            continue  # the marker came early: the entries are behind it
        entries.append(entry)
        if not entry.delta:
            return entries
