"""A real TCP proxy for upload tests: throttles, counts PATCH bodies, corrupts one chunk.

It parses the HTTP/1.1 request stream (keep-alive aware) only to know where bodies are;
bytes are forwarded unchanged except the one byte it is told to flip.
"""

from __future__ import annotations

import socket
import threading
import time


class Proxy:
    """Listens on 127.0.0.1:<port> and forwards to ``upstream_port``.

    Args:
        upstream_port: the real server's port.
        rate: bytes per second client→server (None: unlimited).
        corrupt_patch: flip one byte in the body of this PATCH (1-based count), or None.
    """

    def __init__(self, upstream_port: int, rate: float | None = None,
                 corrupt_patch: int | None = None, port: int = 0) -> None:
        self.upstream_port = upstream_port
        self.rate = rate
        self.corrupt_patch = corrupt_patch
        self.patches = 0
        self.patch_lengths: list[int] = []  # Content-Length of every PATCH, in order
        self.patch_body_bytes = 0
        self.corrupted = 0
        self.active = 0  # client connections still being forwarded
        self._lock = threading.Lock()
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", port))
        self._sock.listen(16)
        self.port = self._sock.getsockname()[1]
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self._stop.set()
        self._sock.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._sock.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            except OSError:
                client.close()
                continue
            threading.Thread(target=self._requests, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def _send(self, dst: socket.socket, data: bytes) -> None:
        if self.rate:
            time.sleep(len(data) / self.rate)
        dst.sendall(data)

    def idle(self, timeout: float = 10.0) -> bool:
        """Wait until every client connection is closed and fully forwarded."""
        deadline = time.monotonic() + timeout
        while self.active and time.monotonic() < deadline:
            time.sleep(0.01)
        return not self.active

    def _requests(self, src: socket.socket, dst: socket.socket) -> None:
        buf = b""
        with self._lock:
            self.active += 1
        try:
            while True:
                while b"\r\n\r\n" not in buf:
                    data = src.recv(65536)
                    if not data:
                        return
                    buf += data
                head, buf = buf.split(b"\r\n\r\n", 1)
                lines = head.split(b"\r\n")
                method = lines[0].split(b" ")[0]
                length = 0
                for line in lines[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value.strip())
                self._send(dst, head + b"\r\n\r\n")
                flip_at = None
                if method == b"PATCH":
                    with self._lock:
                        self.patches += 1
                        self.patch_lengths.append(length)
                        if self.patches == self.corrupt_patch and length > 0:
                            flip_at = length // 2
                left, sent = length, 0
                while left > 0:
                    if not buf:
                        buf = src.recv(min(65536, left))
                        if not buf:
                            return
                    piece, buf = buf[:left], buf[left:]
                    if flip_at is not None and sent <= flip_at < sent + len(piece):
                        i = flip_at - sent
                        piece = piece[:i] + bytes([piece[i] ^ 0xFF]) + piece[i + 1:]
                        with self._lock:
                            self.corrupted += 1
                    for start in range(0, len(piece), 16384):
                        self._send(dst, piece[start:start + 16384])
                    if method == b"PATCH":
                        with self._lock:
                            self.patch_body_bytes += len(piece)
                    left -= len(piece)
                    sent += len(piece)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            with self._lock:
                self.active -= 1
