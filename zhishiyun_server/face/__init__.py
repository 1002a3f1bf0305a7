"""Face login: dlib engine, liveness checks, the HTTP routes and enrolment hooks.

``router`` (from :mod:`zhishiyun_server.face.routes`) is mounted by ``create_app``;
:func:`zhishiyun_server.face.enrol.enrol_candidate` is the roster-import hook;
:func:`zhishiyun_server.face.engine.engine_available` tells ``/config`` whether face
login can work on this server.
"""
