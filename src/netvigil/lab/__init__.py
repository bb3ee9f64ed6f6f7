"""The lab: a small internet in Linux network namespaces, with faults on a timeline."""

from netvigil.lab.faults import FAULT_KINDS, FaultSpec
from netvigil.lab.lab import Lab, LabStatus, default_state_dir, lab_down, lab_status, lab_up
from netvigil.lab.topology import Topology, default_topology_path, load_topology

__all__ = [
    "FAULT_KINDS",
    "FaultSpec",
    "Lab",
    "LabStatus",
    "Topology",
    "default_state_dir",
    "default_topology_path",
    "lab_down",
    "lab_status",
    "lab_up",
    "load_topology",
]
