"""A service's own SMTP endpoint (aiosmtpd on the running event loop): where mail servers send
notify's bounces and delivery reports, and dispatch offices their replies to the adapters."""
from __future__ import annotations

import asyncio

from aiosmtpd.smtp import SMTP

from .logs import get_logger

log = get_logger(__name__)


async def serve(handler, *, host: str, port: int, hostname: str, what: str) -> None:
    """Receive mail for ``handler`` (an aiosmtpd handler with ``handle_DATA``) until cancelled."""
    server = await asyncio.get_running_loop().create_server(lambda: SMTP(handler, hostname=hostname),
                                                            host=host, port=port)
    log.info("receiving mail", what=what, port=port)
    try:
        await server.serve_forever()
    finally:
        server.close()
