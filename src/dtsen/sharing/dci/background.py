"""The app's DCI delivery loop: every ``dci_deliver_interval`` seconds, one
:func:`dtsen.sharing.dci.protocol.run_once` in a worker thread (answer pending async searches, push what
is due, prune). Started only by :func:`dtsen.api.app.app_factory` (``dci_deliver_in_app``); with it off,
run ``dtsen dci deliver`` from cron instead. Several server processes may each run it: rows are claimed
with compare-and-set updates, so nothing is answered or pushed twice.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.concurrency import run_in_threadpool

from dtsen.auth.policy import clock_of
from dtsen.logs import get_logger
from dtsen.sharing.dci import protocol
from dtsen.sharing.dci.envelope import our_key
from dtsen.store.db import session_factory

log = get_logger(__name__)


def deliver_once(app: Any) -> dict[str, Any]:
    """One round on the app's database, with the app's clock, settings and key."""
    settings = app.state.settings
    return protocol.run_once(
        session_factory(app.state.engine),
        now=clock_of(app)(),
        secret=str(settings.resolved_secret_key()),
        receiver_id=settings.dci_receiver_id,
        limits=protocol.Limits(
            settings.dci_page_size_max, settings.dci_batch_max, settings.dci_sync_batch_max
        ),
        key=our_key(app),
    )


async def _loop(app: Any, interval: float) -> None:
    while True:
        try:
            await run_in_threadpool(deliver_once, app)
        except Exception as exc:  # one bad round must not stop the next
            log.error("dci delivery round failed", error=type(exc).__name__)
        await asyncio.sleep(interval)


def start_delivery(app: Any) -> asyncio.Task[None]:
    """Start the loop on the running event loop; cancel the task to stop it."""
    return asyncio.get_running_loop().create_task(_loop(app, float(app.state.settings.dci_deliver_interval)))
