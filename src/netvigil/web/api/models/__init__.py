"""The API's response and request bodies, as pydantic models (they make the OpenAPI schema).

Times are epoch seconds (float, UTC). Names of outcomes, phases, causes and incident
states are the stable public strings of `netvigil.outcome`, `netvigil.classify.base`
and `netvigil.incident`.

One module per resource: `common` (bases, the error shape), `services` (services,
targets, the overview), `vantages`, `measurements` (and rollups), `incidents`, and
`networks` (the network plane over time), and `admin` (request bodies, tokens, agents).
"""

from netvigil.web.api.models.admin import (
    AckIn,
    AgentCreated,
    AgentIn,
    AgentOut,
    MuteIn,
    NoteIn,
    TokenCreated,
    TokenIn,
    TokenOut,
)
from netvigil.web.api.models.common import ERROR_RESPONSES, ErrorOut, json_response
from netvigil.web.api.models.incidents import (
    IncidentDetail,
    IncidentEventOut,
    IncidentSummary,
    NoteOut,
)
from netvigil.web.api.models.measurements import (
    MeasurementOut,
    MeasurementPage,
    RollupOut,
    RollupPage,
)
from netvigil.web.api.models.networks import (
    NetworkPointOut,
    NetworkSeriesOut,
    PrefixSeriesOut,
    SignalEventOut,
)
from netvigil.web.api.models.services import (
    MuteOut,
    Overview,
    OverviewRow,
    PairOut,
    ServiceDetail,
    ServiceOut,
    TargetOut,
)
from netvigil.web.api.models.vantages import VantageOut

__all__ = [
    "ERROR_RESPONSES",
    "AckIn",
    "AgentCreated",
    "AgentIn",
    "AgentOut",
    "ErrorOut",
    "IncidentDetail",
    "IncidentEventOut",
    "IncidentSummary",
    "MeasurementOut",
    "MeasurementPage",
    "MuteIn",
    "MuteOut",
    "NetworkPointOut",
    "NetworkSeriesOut",
    "NoteIn",
    "NoteOut",
    "Overview",
    "OverviewRow",
    "PairOut",
    "PrefixSeriesOut",
    "RollupOut",
    "RollupPage",
    "ServiceDetail",
    "ServiceOut",
    "SignalEventOut",
    "TargetOut",
    "TokenCreated",
    "TokenIn",
    "TokenOut",
    "VantageOut",
    "json_response",
]
