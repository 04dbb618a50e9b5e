"""Dukcapil civil-registration events (births, deaths, moves, marriages, divorces, KK splits) applied to
the registry.

The feed is a file (CSV or Parquet, format in ``docs/events-and-corrections.md``) or a push over the DCI
CRVS notify API (:mod:`dtsen.sharing.dci.crvs`), which checks each pushed event with :func:`check_row`, the
very check a file row gets, and writes the received events as one file at the freeze: one validation, one
path into the cycle. Modules:

- :mod:`.feed`: :func:`read_events` validates every row (file, line, column) and quarantines bad ones;
- :mod:`.overlay`: the golden persons and families with changes kept aside, and the lookups events need;
- :mod:`.handlers`: what each kind of event does, and its outcome;
- :mod:`.apply`: :func:`apply_events` applies every event registered up to the cut-off, in event order,
  and reports each event's outcome, the provenance of every attribute it changed and the lineage of
  families it created or retired (a family emptied by moves, or whose members all died, is not
  published; children left without an adult follow the adult who left). Re-applying the same feed is a
  no-op (a death already recorded, a birth whose NIK exists, ... are reported as already applied);
- :mod:`.deaths`: :func:`deaths_in_snapshot` answers the urgent question at once, before the next cycle:
  which of the published beneficiaries died.

New ids come from the caller (``new_id``): the linkage package owns identifier allocation.
"""

from dtsen.cycle.events.apply import EventReport, apply_events, sequential_ids
from dtsen.cycle.events.deaths import deaths_in_snapshot
from dtsen.cycle.events.feed import KINDS, REQUIRED, EventFeed, check_row, event_files, read_events
from dtsen.cycle.events.handlers import IdAllocator
from dtsen.cycle.events.overlay import EVENT_SOURCE, Overlay

__all__ = [
    "EVENT_SOURCE",
    "KINDS",
    "REQUIRED",
    "EventFeed",
    "EventReport",
    "IdAllocator",
    "Overlay",
    "apply_events",
    "check_row",
    "deaths_in_snapshot",
    "event_files",
    "read_events",
    "sequential_ids",
]
