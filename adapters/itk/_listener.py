"""The adapter's own small HTTP listener for acknowledgements the receiver posts back.

ITK 2.2 carries the business ack (and, in the asynchronous pattern, an
infrastructure ack) as an ITK message of its own, sent to the original sender.
The adapter cannot use a gateway door (adapters never import ``gateway/``), so it
listens itself, on ``business_ack.host``/``port``, at ``/itk/ack``, and names that
URL as the report's ``wsa:ReplyTo``. Every post is answered with the ITK
synchronous response (or a SOAP fault when it is not an ack it can read).
"""

from __future__ import annotations

import structlog
from aiohttp import web

from adapters.itk import _wire
from adapters.itk._board import AckBoard
from adapters.itk._options import BusinessAckOptions
from adapters.itk_toolkit.errors import ItkError

log = structlog.get_logger(__name__)

PATH = "/itk/ack"


class AckListener:
    def __init__(self, adapter: str, settings: BusinessAckOptions, max_bytes: int) -> None:
        self.board = AckBoard(adapter)
        self._adapter = adapter
        self._settings = settings
        self._max_bytes = max_bytes
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> None:
        app = web.Application(client_max_size=self._max_bytes)
        app.router.add_post(PATH, self._ack)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        # reuse_port: with ``--workers N`` each worker listens on the same port.
        site = web.TCPSite(self._runner, self._settings.host, self._settings.port, reuse_port=True)
        await site.start()
        port = int(self._runner.addresses[0][1])
        self.url = self._settings.public_url or f"http://{self._settings.host}:{port}{PATH}"
        log.info("itk_ack_listener_started", adapter=self._adapter, url=self.url)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _ack(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            arrived = _wire.business_ack(body, self._max_bytes)
        except ValueError as exc:
            code = exc.code.code if isinstance(exc, ItkError) else "unreadable"
            log.warning("itk_ack_refused", adapter=self._adapter, code=code)
            return _xml(_wire.ack_refusal(exc), status=500)
        outcome = arrived.outcome
        log.info("itk_business_ack_received", adapter=self._adapter,
                 tracking_id=outcome.tracking_id, accepted=outcome.accepted)  # fmt: skip
        self.board.deliver(outcome)
        return _xml(_wire.ack_accepted(arrived.own_tracking_id))


def _xml(body: bytes, status: int = 200) -> web.Response:
    return web.Response(
        body=body, status=status, headers={"Content-Type": "text/xml; charset=utf-8"}
    )
