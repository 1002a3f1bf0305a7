"""Python's cyclic garbage collector, run on the Qt main thread only.

Left alone, the collector runs on whichever thread happens to allocate when a threshold is
crossed: a check runner, the upload worker, a capture thread. If that pass frees a cycle
holding Qt objects, their C++ destructors run off the main thread and the process can crash
(a segfault seen in CI). So automatic collection is switched off and a main-thread timer
collects each generation when its count passes the same thresholds Python would use
(Anki's GUI does the same).
"""

from __future__ import annotations

import gc

from zhishiyun.ui.qt import QObject, QTimer


def collect_due() -> None:
    """Collect, on the calling thread, every generation whose threshold was crossed."""
    thresholds = gc.get_threshold()
    counts = gc.get_count()
    for generation in (2, 1, 0):
        if counts[generation] > thresholds[generation]:
            gc.collect(generation)
            return


class MainThreadGarbageCollector(QObject):
    """Owns the timer; create it once on the main thread after the QApplication."""

    def __init__(self, parent: QObject, interval_ms: int = 1000) -> None:
        super().__init__(parent)
        gc.disable()
        self._timer = QTimer(self)
        self._timer.timeout.connect(collect_due)
        self._timer.start(interval_ms)
