"""Every table of the serving database: importing this module registers all models on ``Base.metadata``.

The models live in modules named after their concern (regions and audit in :mod:`dtsen.store.models`,
served snapshots in :mod:`dtsen.store.served`, staff and machine identities in
:mod:`dtsen.store.identity`, citizen requests in :mod:`dtsen.store.intake`, workflow cases in
:mod:`dtsen.store.cases`, agency access requests in :mod:`dtsen.store.sharing`, the DCI protocol state
in :mod:`dtsen.store.dci`, Dukcapil's pushed events and agencies' subscriptions in
:mod:`dtsen.store.dci_events`); Alembic's environment and the model/migration agreement test import this
one module so no table can be forgotten.
"""

from __future__ import annotations

from dtsen.store import cases, dci, dci_events, identity, intake, served, sharing
from dtsen.store.models import Base

__all__ = ["Base", "cases", "dci", "dci_events", "identity", "intake", "served", "sharing"]
