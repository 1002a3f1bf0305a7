"""The exam window (GUI part 2), from entry to the last upload.

Device confirmation, waiting room, papers and answers, the end, and the finishing page with
every segment's upload. It observes a headless :class:`~zhishiyun.exam.session.ExamSession`;
all slow work runs through ``run_task``.
"""
