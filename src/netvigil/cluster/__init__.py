"""Several processes of one role sharing one config's work, over NATS JetStream.

- `membership`: the live members of a role (`prober:<vantage>`, `detector`), kept in
  the JetStream key-value bucket `netvigil_members` by heartbeats with a TTL.
- `assignment`: rendezvous hashing; which member owns which key, the same in every
  process, and stable as members come and go.
- `prober`: the prober role; each process probes its share of the targets.
- `incidents`: the detectors' split of the networks and services, so that no two own
  one incident.
- `detector`: the detector role; each process detects on the measurements stream and
  keeps the incidents of its share (`incident_publisher`: their events to the bus).
- `jsonl_sink`: measurements to a JSON-lines file (tests, debugging).
"""

from __future__ import annotations

from netvigil.cluster.assignment import KeyOwners, assign, owner, share, weight
from netvigil.cluster.detector import (
    DetectionScope,
    DetectorStats,
    DetectSettings,
    EventOwnership,
    detector_durable,
    run_detector,
)
from netvigil.cluster.incident_publisher import IncidentEventPublisher
from netvigil.cluster.incidents import (
    DETECTOR_ROLE,
    IncidentGroup,
    IncidentShare,
    OwnedIncidents,
    incident_groups,
    owned_incident_keys,
)
from netvigil.cluster.jsonl_sink import JSONLSink
from netvigil.cluster.membership import (
    DEFAULT_HEARTBEAT_S,
    MEMBERS_BUCKET,
    ClusterError,
    Membership,
    MemberTable,
    decode_name,
    default_member_name,
    encode_name,
    member_key,
    open_members_bucket,
)
from netvigil.cluster.prober import ProberSettings, TargetShare, prober_role, run_prober

__all__ = [
    "DEFAULT_HEARTBEAT_S",
    "DETECTOR_ROLE",
    "MEMBERS_BUCKET",
    "ClusterError",
    "DetectSettings",
    "DetectionScope",
    "DetectorStats",
    "EventOwnership",
    "IncidentEventPublisher",
    "IncidentGroup",
    "IncidentShare",
    "JSONLSink",
    "KeyOwners",
    "MemberTable",
    "Membership",
    "OwnedIncidents",
    "ProberSettings",
    "TargetShare",
    "assign",
    "decode_name",
    "default_member_name",
    "detector_durable",
    "encode_name",
    "incident_groups",
    "member_key",
    "open_members_bucket",
    "owned_incident_keys",
    "owner",
    "prober_role",
    "run_detector",
    "run_prober",
    "share",
    "weight",
]
