"""Exam integrity on the server: stand-in devices, environment, identity, evidence, reports.

See ``docs/integrity.md`` for the threat model and every signal with its severity.
"""
