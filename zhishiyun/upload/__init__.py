"""Uploads: a persistent queue (SQLite, WAL), the tus uploader (tuspy) and one worker thread.

Compose them once (``cli.py`` / ``ui/app.py``)::

    queue = UploadQueue(command.queue_path(settings))        # one per data dir
    worker = UploadWorker(queue, tokens=token_store.get)     # at login
    worker.start()
    # entering an exam (reply of POST /exams/{id}/sessions):
    uploads = SessionUploads(queue, sid, reply.upload_url, client.api_url, session_dir)
    uploads.enqueue_session_dir()                            # whatever a crash left behind
    recorder = Recorder(..., segment_did_close=uploads.on_segment_closed)
    worker.set_current_session(sid)
    worker.set_rate_limit(256_000)                           # while an interview is live
    uploads.put_answer("q3", 7, {"version": 7, "content": "…"})   # "put answer q3 v7"
    uploads.post_events([{"id": …, "kind": "focus_lost", "at": …}])
    ...
    worker.stop()                                            # at quit (after asking)
"""
