"""JetStream key-value buckets: open one, making it first if it does not exist."""

from __future__ import annotations

from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig
from nats.js.errors import BadRequestError, BucketNotFoundError
from nats.js.kv import KeyValue

__all__ = ["key_value_bucket"]


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
