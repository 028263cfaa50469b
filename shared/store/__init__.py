"""Table Storage: desired state, run history. Schema: docs/desired-state.md."""

from .desired import DesiredStateStore
from .history import HistoryStore
from .rows import RowError, TenantLoad
from .tables import TableNames

__all__ = ["DesiredStateStore", "HistoryStore", "RowError", "TableNames", "TenantLoad"]
