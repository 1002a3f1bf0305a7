"""tus 1.0.0 resumable uploads: core, creation, checksum, termination, expiration.

``router.build_tus_router(storage, hooks, limits)`` returns a FastAPI router for ``/files/``;
``storage`` is an :class:`~zhishiyun_server.tus.storage.UploadStorage` (local disk by default),
``hooks`` decide who owns an upload and what happens when one completes.
"""
