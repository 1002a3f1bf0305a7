"""Uploads: a persistent queue (SQLite, WAL), the tus uploader (tuspy) and one worker thread.

Compose them once (``cli.py`` / ``ui/app.py``)::

    queue = UploadQueue(settings.data_path / "upload-queue.sqlite3")
    worker = UploadWorker(queue, tokens=lambda: token)
    worker.start()
    recorder.segment_did_close.append(worker.on_segment_closed)   # or queue.enqueue_segment
    ...
    worker.stop()
"""
