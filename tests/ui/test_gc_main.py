"""Cyclic garbage is collected on the main thread, never by a pass on a worker thread."""

from __future__ import annotations

import gc
import threading


def test_the_app_collects_due_garbage_on_the_main_thread_only(qapp):
    from zhishiyun.ui.app import create_application
    from zhishiyun.ui.gc_main import collect_due

    app = create_application()
    assert not gc.isenabled()  # no automatic pass on whichever thread allocates
    assert app._zhishiyun_gc._timer.isActive()

    class Node:
        pass

    def make_cycles():
        for _ in range(gc.get_threshold()[0] * 3):
            a, b = Node(), Node()
            a.other, b.other = b, a

    worker = threading.Thread(target=make_cycles)
    worker.start()
    worker.join()
    assert gc.get_count()[0] > gc.get_threshold()[0]  # the worker collected nothing
    collect_due()  # what the main-thread timer runs
    assert gc.get_count()[0] < gc.get_threshold()[0]
