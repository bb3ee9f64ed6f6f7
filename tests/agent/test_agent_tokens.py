"""Agent tokens: random, and their hash is what the server's config accepts."""

from __future__ import annotations

import re

from netvigil.agent.tokens import hash_token, new_token
from netvigil.config.model import AgentConfig
from netvigil.web.ingest import authenticate


def test_new_token_hash_is_accepted_by_the_agent_config() -> None:
    token, digest = new_token()
    assert re.fullmatch(r"[0-9a-f]{64}", digest)
    assert hash_token(token) == digest
    agent = AgentConfig(name="tirana", token_sha256=digest)
    assert agent.accepts(token)
    assert not agent.accepts(token + "x")
    assert authenticate(f"Bearer {token}", [agent]) is agent


def test_tokens_are_unique_and_long() -> None:
    tokens = {new_token()[0] for _ in range(100)}
    assert len(tokens) == 100
    assert all(len(t) >= 40 and re.fullmatch(r"nv_[A-Za-z0-9_\-]+", t) for t in tokens)
