"""Candidates' password login, logout, profile and the failed-login limits (:mod:`.routes`).

Hashing passwords and issuing tokens stays in :mod:`zhishiyun_server.security`: the request
dependencies (:mod:`zhishiyun_server.deps`) and the review console's staff accounts use it too.
"""
