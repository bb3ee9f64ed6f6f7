"""Agent bearer tokens: a new random token and the hash the server's config keeps."""

from __future__ import annotations

import hashlib
import secrets

__all__ = ["hash_token", "new_token"]

TOKEN_BYTES = 32
"""Random bytes in a token (256 bits), URL-safe base64 encoded."""


def hash_token(token: str) -> str:
    """The sha256 hex digest of `token`, as `[[agents]] token_sha256` holds it."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> tuple[str, str]:
    """A fresh random token and its sha256 hex digest: (token, token_sha256)."""
    token = "nv_" + secrets.token_urlsafe(TOKEN_BYTES)
    return token, hash_token(token)
