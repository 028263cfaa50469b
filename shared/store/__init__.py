"""Table Storage: desired state, run history. Schema: docs/desired-state.md."""

from shared.store.desired import DesiredStateStore
from shared.store.rows import RowError
from shared.store.runs import HistoryStore
from shared.store.tables import TableNames

__all__ = ["DesiredStateStore", "HistoryStore", "RowError", "TableNames"]
