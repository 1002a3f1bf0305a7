"""求助: a candidate's help requests during an exam and the staff's replies.

The candidate API is in :mod:`zhishiyun_server.help.routes`; staff reply from the review
console or ``zhishiyun-server admin help-reply`` (both through :func:`service.reply`).
"""
