"""The master's allocator: who is offered which agent's resources, and when not.

Owns the books of agents, frameworks, grants and refusal filters, and the DRF ordering.
Knows nothing of offers, HTTP, asyncio or time sources: the master shell passes ``now``,
calls `Allocator.allocate` when a run is due and turns `Allocation`s into offers.

    master (asyncio shell) --events--> Allocator (mechanism: books + allocation run)
                                          |-- role sorter   (Sorter: DRFSorter, hierarchical)
                                          |-- framework sorter per role (Sorter: DRFSorter)
                                          '-- Filters (refusal filters from declines)

Modules: ``sorter`` (the policy protocol), ``drf`` (DRF, the default policy), ``filters``
(refusal filters and the refuse_seconds rules), ``allocator`` (the mechanism).
"""

from berth.master.allocator.allocator import (
    DEFAULT_MIN_ALLOCATABLE,
    Allocation,
    Allocator,
    AllocatorStatistics,
)
from berth.master.allocator.drf import DRFSorter
from berth.master.allocator.filters import (
    DEFAULT_REFUSE_SECONDS,
    MAX_REFUSE_SECONDS,
    Filters,
    RefusalFilter,
    effective_refuse_seconds,
)
from berth.master.allocator.sorter import Sorter

__all__ = [
    "DEFAULT_MIN_ALLOCATABLE",
    "DEFAULT_REFUSE_SECONDS",
    "MAX_REFUSE_SECONDS",
    "Allocation",
    "Allocator",
    "AllocatorStatistics",
    "DRFSorter",
    "Filters",
    "RefusalFilter",
    "Sorter",
    "effective_refuse_seconds",
]
