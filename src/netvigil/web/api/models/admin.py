"""Admin request and response bodies: acknowledgements, notes, mutes, tokens, agents."""

from __future__ import annotations

from pydantic import Field

from netvigil.web.api.models.common import RequestModel, ResponseModel

__all__ = [
    "AckIn",
    "AgentCreated",
    "AgentIn",
    "AgentOut",
    "MuteIn",
    "NoteIn",
    "TokenCreated",
    "TokenIn",
    "TokenOut",
]

_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$"


class AckIn(RequestModel):
    """Acknowledge an incident, with an optional note."""

    note: str = Field(default="", max_length=4000)


class NoteIn(RequestModel):
    """Annotate an incident."""

    text: str = Field(min_length=1, max_length=4000)


class MuteIn(RequestModel):
    """Mute a target for maintenance until `until` (epoch seconds, in the future)."""

    until: float = Field(gt=0, lt=1e11, allow_inf_nan=False)
    note: str = Field(default="", max_length=1000)


class TokenIn(RequestModel):
    """Create an admin token named `name`."""

    name: str = Field(min_length=1, max_length=64, pattern=_NAME)


class TokenOut(ResponseModel):
    """An admin token as stored (never the token itself)."""

    name: str
    created: float
    last_used: float | None


class TokenCreated(ResponseModel):
    """A new admin token: shown once, only its hash is kept."""

    name: str
    token: str


class AgentIn(RequestModel):
    """Add a remote vantage allowed to ingest."""

    name: str = Field(min_length=1, max_length=64, pattern=_NAME)
    country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")
    in_country: bool = False


class AgentOut(ResponseModel):
    """A remote vantage allowed to ingest; `configured` ones come from the config file."""

    name: str
    country: str | None
    in_country: bool
    configured: bool
    created: float | None


class AgentCreated(ResponseModel):
    """A new agent token: shown once; `token_sha256` is what a config file would hold."""

    name: str
    token: str
    token_sha256: str
