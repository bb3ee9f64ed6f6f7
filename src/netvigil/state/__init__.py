"""The current state: what every path, target, service and vantage looks like now,
decided once (`CurrentState`) and read by everyone."""

from netvigil.state.current import CurrentState, StatePolicy
from netvigil.state.health import HealthPolicy, HealthState, PathHealth
from netvigil.state.paths import PathTable

__all__ = ["CurrentState", "HealthPolicy", "HealthState", "PathHealth", "PathTable", "StatePolicy"]
