"""Named crash points, armed only by ``HAULBRIDGE_FAILPOINTS``.

Crash-safety tests start a service with e.g.
``HAULBRIDGE_FAILPOINTS=adapter.after_vendor_call`` and the process SIGKILLs
itself the first time it reaches that point: exactly the "died after the side
effect, before the commit" case the outbox/inbox design must survive. Unset,
each call is one set lookup.
"""
from __future__ import annotations

import os
import signal

_ARMED = frozenset(filter(None, os.environ.get("HAULBRIDGE_FAILPOINTS", "").split(",")))


def failpoint(name: str) -> None:
    if name in _ARMED:
        os.kill(os.getpid(), signal.SIGKILL)
