"""Formats the client and the reference server must agree on, in one place both import.

Standard library only; imports nothing of ``zhishiyun`` or ``zhishiyun_server``.
"""
