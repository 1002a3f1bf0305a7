"""Background work for the GUI: ``run_task(func, on_done)`` and the main-thread bridge.

Everything slow (network, devices, files) runs on a :class:`QThreadPool`; its outcome comes
back on the main thread. Core callbacks (check results, face-login frames, device-test
progress) fire on worker threads; :func:`on_main` wraps them so the UI sees them on the
main thread — this module is the one seam where that happens.

Two lanes: :func:`run_task` (the global pool) for long work — entering an exam, checks,
device tests, downloads — and :func:`run_quick` (a pool of its own) for short polls such
as the status bar's ping and upload count, so a poll never waits behind a long task.
:func:`serial_pool` gives one-thread pools for work whose order matters (answer saves).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from zhishiyun.ui.qt import QObject, QRunnable, Qt, QThreadPool, Signal

log = logging.getLogger(__name__)
Done = Callable[[Any, BaseException | None], None]


class _MainThreadInvoker(QObject):
    """Lives on the main thread; runs posted callables there (queued connection)."""

    _posted = Signal(object)

    def __init__(self) -> None:
        super().__init__()
        self._posted.connect(self._on_posted, Qt.ConnectionType.QueuedConnection)

    def post(self, fn: Callable[[], None]) -> None:
        self._posted.emit(fn)

    def _on_posted(self, fn: Callable[[], None]) -> None:
        try:
            fn()
        except RuntimeError as exc:  # the receiving widget was closed meanwhile
            if "already deleted" not in str(exc):
                raise
            log.debug("late result dropped: %s", exc)


_invoker: _MainThreadInvoker | None = None
_invoker_lock = threading.Lock()


def install_bridge() -> None:
    """Create the bridge; call once on the main thread after the QApplication exists."""
    global _invoker
    with _invoker_lock:
        if _invoker is None:
            _invoker = _MainThreadInvoker()


def post_to_main(fn: Callable[[], None]) -> None:
    """Run ``fn()`` soon on the main thread (safe to call from any thread)."""
    if _invoker is None:
        raise RuntimeError("install_bridge() was not called on the main thread")
    try:
        _invoker.post(fn)
    except RuntimeError:  # the application is shutting down: nobody is left to tell
        log.debug("result dropped at shutdown")


def on_main(callback: Callable[..., None]) -> Callable[..., None]:
    """Wrap a UI callback so that a core worker thread may call it; it runs on the main thread."""
    install_bridge()

    def relay(*args: Any, **kwargs: Any) -> None:
        post_to_main(lambda: callback(*args, **kwargs))

    return relay


class _Task(QRunnable):
    def __init__(self, func: Callable[[], Any], on_done: Done | None) -> None:
        super().__init__()
        self._func, self._on_done = func, on_done

    def run(self) -> None:  # worker thread
        result, error = None, None
        try:
            result = self._func()
        except Exception as exc:  # noqa: BLE001 - handed to on_done, which shows it
            error = exc
            log.info("background task failed: %r", exc)
        if self._on_done is not None:
            done = self._on_done
            post_to_main(lambda: done(result, error))


QUICK_THREADS = 3
_pools: dict[str, QThreadPool] = {}
_pools_lock = threading.Lock()


def _named_pool(name: str, threads: int) -> QThreadPool:
    with _pools_lock:
        pool = _pools.get(name)
        if pool is None:
            pool = QThreadPool()
            pool.setObjectName(name)
            pool.setMaxThreadCount(threads)
            _pools[name] = pool
        return pool


def quick_pool() -> QThreadPool:
    """The pool of short polls (ping, upload counts, the finishing page's progress)."""
    return _named_pool("quick", QUICK_THREADS)


def serial_pool(name: str) -> QThreadPool:
    """A one-thread pool: tasks given to it run one after the other, in order."""
    return _named_pool(f"serial:{name}", 1)


def run_task(func: Callable[[], Any], on_done: Done | None = None,
             pool: QThreadPool | None = None) -> None:
    """Run ``func()`` on a pool thread; call ``on_done(result, error)`` on the main thread.

    Args:
        func: the slow work; copy any data it needs before handing it over.
        on_done: receives the return value, or ``None`` and the exception raised.
        pool: a dedicated pool (:func:`serial_pool`, :func:`quick_pool`); by default the
            global pool of long tasks.
    """
    install_bridge()
    (pool or QThreadPool.globalInstance()).start(_Task(func, on_done))


def run_quick(func: Callable[[], Any], on_done: Done | None = None) -> None:
    """Like :func:`run_task` on the pool of short polls (never behind a long task)."""
    run_task(func, on_done, quick_pool())
