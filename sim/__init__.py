"""Local simulator for SMTP AUTH Guard: a dev/test/benchmark tool, never deployed.

Plays, on one 127.0.0.1 port, the App Service managed identity endpoint and the
Exchange Online admin API InvokeCommand transport, following the facts in
docs/simulator.md (Exchange admin API facts, with their public sources). Start it in-process with
`SimServer` or standalone with `python -m sim`.
"""

from sim.faults import FaultRule, Faults
from sim.records import RequestRecord
from sim.server import SimServer
from sim.tenant import SimMailbox, SimTenant

__all__ = ["FaultRule", "Faults", "RequestRecord", "SimMailbox", "SimServer", "SimTenant"]
