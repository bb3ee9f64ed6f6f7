"""An incident's copy (the snapshot every event carries) equals it and is independent of it."""

from __future__ import annotations

from netvigil.cause import Cause, Evidence, Topic
from netvigil.evidence import Features
from netvigil.incident import CauseChange, Incident, IncidentState


def incident() -> Incident:
    return Incident(
        id="inc-1",
        state=IncidentState.CONFIRMED,
        start=1_700_000_000.0,
        first_measurement_id="m-1",
        confirmed_at=1_700_000_020.0,
        cause=Cause.SHUTDOWN,
        confidence=0.87,
        services=["portal"],
        targets=["portal-https", "portal-dns"],
        networks=["gov"],
        organizations=["government"],
        vantages=["local", "abroad"],
        evidence=[
            Evidence("every vantage fails: 2 of 2", Topic.VANTAGE, 0.1 + 0.2, Cause.SHUTDOWN)
        ],
        cause_history=[CauseChange(1_700_000_010.0, Cause.SHUTDOWN, 0.55)],
        probabilities={"shutdown": 0.87, "unknown": 0.13},
        features=Features(n_targets=2.0, loss_post=1.0, latency_ratio=1.0 / 3.0),
        maintenance=None,
        updated=1_700_000_020.0,
    )


def test_the_copy_equals_the_incident_and_has_the_same_json_form() -> None:
    original = incident()
    copy = original.copy()
    assert copy == original
    assert copy is not original
    assert copy.to_json() == original.to_json()
    assert Incident.from_json(copy.to_json()) == Incident.from_json(original.to_json())


def test_changing_the_incident_leaves_the_copy_as_it_was() -> None:
    original = incident()
    copy = original.copy()
    before = copy.to_json()
    original.state = IncidentState.RESOLVED
    original.end = 1_700_000_100.0
    original.confidence = 0.2
    original.services.append("tax")
    original.targets.remove("portal-dns")
    original.networks.clear()
    original.organizations.append("press")
    original.vantages.append("frankfurt")
    original.evidence.append(Evidence("later", Topic.SHAPE))
    original.cause_history.append(CauseChange(1_700_000_090.0, Cause.UNKNOWN, 0.3))
    original.probabilities["unknown"] = 0.9
    original.features = Features(n_targets=1.0)
    assert copy.to_json() == before
    assert copy == incident()


def test_changing_the_copy_leaves_the_incident_as_it_was() -> None:
    original = incident()
    copy = original.copy()
    copy.targets.append("tax-https")
    copy.vantages.clear()
    copy.evidence.clear()
    copy.cause_history.clear()
    copy.probabilities.clear()
    assert original == incident()
