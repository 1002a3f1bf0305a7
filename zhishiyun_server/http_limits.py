"""The HTTP connection's own limit: a request line and headers of bounded size.

uvicorn's httptools protocol (llhttp underneath) keeps whatever a client sends before the
end of the headers: one connection sending an endless header grew the server by 530 MB
in 300 MiB, and no route or middleware sees a request before its headers are complete.
:class:`HeadLimitedHttpTools` counts the bytes of each request's head as they arrive and
answers 431 (and closes) once they pass :data:`MAX_HEAD_BYTES`. The largest head a client
of ours sends is a tus creation carrying its manifest line: about 15 KiB.

Where httptools is missing, uvicorn's h11 protocol is used with the same limit
(``h11_max_incomplete_event_size``): see :func:`uvicorn_protocol_options`.
"""

from __future__ import annotations

import json
import logging

log = logging.getLogger(__name__)

#: Most bytes of a request line plus headers (nginx allows 32 KiB by default).
MAX_HEAD_BYTES = 64 * 1024

_BODY = json.dumps({"error": {
    "code": "headers_too_large",
    "message": f"The request line and headers exceed {MAX_HEAD_BYTES} bytes."}}).encode()
_REPLY = (b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
          b"content-type: application/json\r\n"
          b"content-length: " + str(len(_BODY)).encode() + b"\r\n"
          b"connection: close\r\n\r\n" + _BODY)

try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # httptools is not installed: h11 and its own limit
    HttpToolsProtocol = None  # type: ignore[assignment,misc]


if HttpToolsProtocol is not None:

    class HeadLimitedHttpTools(HttpToolsProtocol):
        """uvicorn's httptools protocol, refusing a request head over the limit with 431."""

        def connection_made(self, transport) -> None:  # noqa: ANN001, D102
            self._head_bytes = 0
            self._in_head = True  # the first bytes of a connection are a request's head
            super().connection_made(transport)

        def data_received(self, data: bytes) -> None:  # noqa: D102
            if self._in_head:
                self._head_bytes += len(data)
            super().data_received(data)
            # Checked after parsing: a chunk that ends the head and carries body bytes
            # ends the head (on_headers_complete) and counts nothing.
            if self._in_head and self._head_bytes > MAX_HEAD_BYTES \
                    and not self.transport.is_closing():
                log.warning("request head over %d bytes refused (431)", MAX_HEAD_BYTES)
                self.transport.write(_REPLY)
                self.transport.close()

        def on_headers_complete(self) -> None:  # noqa: D102
            self._in_head = False
            self._head_bytes = 0
            super().on_headers_complete()

        def on_message_complete(self) -> None:  # noqa: D102
            self._in_head = True  # what follows is the next request's head
            super().on_message_complete()


def uvicorn_protocol_options() -> dict:
    """``uvicorn.run`` options that hold every request head to :data:`MAX_HEAD_BYTES`."""
    if HttpToolsProtocol is None:
        return {"http": "h11", "h11_max_incomplete_event_size": MAX_HEAD_BYTES}
    return {"http": "zhishiyun_server.http_limits:HeadLimitedHttpTools"}
