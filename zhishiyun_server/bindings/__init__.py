"""Second camera: bind a phone to an exam session by QR code or bind code.

The package holds the binding model (:mod:`.models`), the request and reply bodies
(:mod:`.schemas`), the routes (:mod:`.routes`, mounted by ``install``) and the phone page
(``phone/``).

Desktop side (candidate's bearer token):

- ``POST /api/v1/sessions/{sid}/bindings`` issues a bind code (8 characters, shown as
  ``ABCD-EFGH``), the phone page URL carrying it (``/phone/#code=…``: a URL fragment, so
  the code never reaches access logs) and the QR payload (that URL). A code lives
  ``ZHISHIYUN_SERVER_BIND_CODE_TTL_S`` seconds (default 300; the body may ask for less),
  works once, and only the newest code of a session works.
- ``GET /api/v1/sessions/{sid}/bindings/status``: ``not_bound`` / ``bound`` / ``recording``
  / ``lost`` (no heartbeat for ``ZHISHIYUN_SERVER_PHONE_LOST_S``, default 15 s), the last
  phone upload and the phone's warnings (page in background, chunks buffered offline).

Phone side (no login): ``POST /api/v1/phone/redeem`` turns a code into a phone credential
(``zsyp_…``) scoped to the ``phone`` track of that one session; a later bind revokes it.
With it the phone may only: send heartbeats (``/phone/heartbeat``), have its manifest
lines signed (``/phone/manifest``) and upload to ``/files/`` with metadata
``session_id`` = its session and ``track`` = ``phone``.

Why the server signs the phone's manifest lines: the session key stays on the desktop and
the server (the one party that verifies it anyway). The phone computes each chunk's sha256
and sends ``{seq, start_ms, duration_ms, bytes, sha256}``; the server writes the line with
the same rules as the client (:mod:`zhishiyun.capture.manifest`: ``prev`` chain per track,
HMAC with the session key, ``signer: "server"``) and stores it before the chunk arrives, so
the tus endpoint checks the chunk against it. A stolen phone credential can therefore add
``phone`` chunks to one session until it ends, and nothing else.
"""
