"""The exam core, headless: session state machine, local answers and events, resume.

:class:`~zhishiyun.exam.runtime.ExamRuntime` composes the upload queue, its worker and the
server clock once; :class:`~zhishiyun.exam.session.ExamSession` drives one exam from entry
to the last upload. Nothing here imports Qt.
"""
