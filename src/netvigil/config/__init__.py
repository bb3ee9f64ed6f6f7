"""Configuration: the pydantic model and the TOML loader."""

from netvigil.config.load import load_config, parse_config
from netvigil.config.model import (
    AgentConfig,
    Config,
    MaintenanceConfig,
    NetworkConfig,
    OrganizationConfig,
    SchedulerConfig,
    ServerConfig,
    ServiceConfig,
    StoreConfig,
    VantageConfig,
)

__all__ = [
    "AgentConfig",
    "Config",
    "MaintenanceConfig",
    "NetworkConfig",
    "OrganizationConfig",
    "SchedulerConfig",
    "ServerConfig",
    "ServiceConfig",
    "StoreConfig",
    "VantageConfig",
    "load_config",
    "parse_config",
]
