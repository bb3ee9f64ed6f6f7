"""The lab: a small internet in Linux network namespaces, with faults on a timeline."""

from netvigil.lab.faults import FAULT_KINDS, FAULTS, Fault, FaultSpec, LabHost, UndoRecord
from netvigil.lab.lab import Lab, default_state_dir
from netvigil.lab.lifecycle import LabStatus, lab_down, lab_status, lab_up
from netvigil.lab.topology import Topology, default_topology_path, load_topology

__all__ = [
    "FAULTS",
    "FAULT_KINDS",
    "Fault",
    "FaultSpec",
    "Lab",
    "LabHost",
    "LabStatus",
    "Topology",
    "UndoRecord",
    "default_state_dir",
    "default_topology_path",
    "lab_down",
    "lab_status",
    "lab_up",
    "load_topology",
]
