"""The console's own strings: Chinese by default, English on request.

The server does not import the client's gettext catalogs (it imports nothing of the client
but the shared formats), so the console keeps its few strings here, both languages side by
side. ``?lang=en`` / ``?lang=zh`` choose (and are remembered in a cookie), else the
browser's ``Accept-Language``; anything else is Chinese.
"""

from __future__ import annotations

from fastapi import Request

LANGUAGES = ("zh", "en")
LANG_COOKIE = "zsy_review_lang"

#: key -> (Chinese, English); ``{name}`` placeholders are filled by :func:`t`.
STRINGS: dict[str, tuple[str, str]] = {
    "console": ("智试云 · 审核台", "Zhishiyun review console"),
    "login": ("登录", "Log in"),
    "logout": ("退出登录", "Log out"),
    "staff_name": ("账号", "Account"),
    "password": ("密码", "Password"),
    "login_failed": ("账号或密码错误。", "The account or password is wrong."),
    "login_limited": ("失败次数过多，请 {seconds} 秒后再试。",
                      "Too many failed logins. Try again in {seconds} seconds."),
    "form_expired": ("页面已过期，请重试。", "This page expired. Please try again."),
    "exams": ("考试", "Exams"),
    "exam": ("考试", "Exam"),
    "kind": ("类型", "Kind"),
    "written": ("笔试", "Written"),
    "interview": ("面试", "Interview"),
    "starts": ("开始时间", "Starts"),
    "enrolled": ("报名", "Enrolled"),
    "entered": ("已进入", "Entered"),
    "in_progress": ("考试中", "In progress"),
    "finished": ("已结束", "Finished"),
    "flagged": ("有警示", "Flagged"),
    "live_wall": ("实时监控墙", "Live wall"),
    "sessions": ("考生场次", "Sessions"),
    "candidate": ("考生", "Candidate"),
    "online": ("在线", "Online"),
    "offline": ("离线", "Offline"),
    "backlog": ("待上传 {count} 段", "{count} segment(s) to upload"),
    "no_picture": ("暂无画面", "No picture yet"),
    "no_sessions": ("还没有考生进入这场考试。", "No candidate has entered this exam yet."),
    "last_contact": ("最后联系", "Last contact"),
    "session": ("场次", "Session"),
    "screen": ("屏幕", "Screen"),
    "camera": ("摄像头", "Camera"),
    "phone": ("第二机位", "Second camera"),
    "no_recording": ("没有收到录像。", "No recording received."),
    "events": ("事件时间线", "Event timeline"),
    "no_events": ("没有事件。", "No events."),
    "time": ("时间", "Time"),
    "event": ("事件", "Event"),
    "details": ("详情", "Details"),
    "answers": ("作答", "Answers"),
    "no_answers": ("没有作答。", "No answers."),
    "question": ("题目", "Question"),
    "version": ("版本", "Version"),
    "saved_at": ("保存时间", "Saved at"),
    "late": ("迟交", "late"),
    "delay": ("晚 {seconds} 秒送达", "arrived {seconds} s later"),
    "received_at": ("收到时间", "Received at"),
    "saved_unknown": ("未注明", "not given"),
    "current_answer": ("作为答案", "the answer"),
    "no_answer_taken": ("没有计入的版本。", "No version was taken as the answer."),
    "all_versions": ("全部版本（{count}）", "All versions ({count})"),
    "refused_saved_after_end": ("结束后保存，未计入", "saved after the end, not counted"),
    "refused_stale_version": ("晚于较新版本送达，未计入",
                              "arrived after a newer version, not counted"),
    "integrity": ("完整性摘要", "Integrity summary"),
    "track": ("轨道", "Track"),
    "received": ("已收到", "Received"),
    "missing": ("缺失", "Missing"),
    "unsigned": ("未签名", "Unsigned"),
    "late_lines": ("迟到的清单行", "Late manifest lines"),
    "chain": ("校验链", "Chain"),
    "chain_ok": ("完好", "intact"),
    "chain_bad": ("异常", "broken"),
    "chain_none": ("未收到清单", "no manifest yet"),
    "identity": ("身份核验", "Identity checks"),
    "environment": ("环境", "Environment"),
    "verdict": ("审核结论", "Verdict"),
    "no_issue": ("无问题", "No issue"),
    "suspicious": ("可疑", "Suspicious"),
    "violation": ("违规", "Violation"),
    "notes": ("备注", "Notes"),
    "save": ("保存", "Save"),
    "saved_verdict": ("结论已保存。", "Verdict saved."),
    "no_verdict": ("尚无结论。", "No verdict yet."),
    "decided_by": ("{name} 于 {at}", "{name} at {at}"),
    "help": ("求助", "Help requests"),
    "no_help": ("没有求助。", "No help requests."),
    "reply": ("回复", "Reply"),
    "send_reply": ("发送回复", "Send reply"),
    "staff": ("监考老师", "Staff"),
    "export": ("导出证据包 (ZIP)", "Export evidence (ZIP)"),
    "entered_at": ("进入时间", "Entered at"),
    "finished_at": ("结束时间", "Finished at"),
    "state": ("状态", "State"),
    "not_found": ("没有这个页面。", "No such page."),
    "back": ("返回", "Back"),
    "severity_info": ("提示", "info"),
    "severity_warning": ("警告", "warning"),
    "severity_critical": ("严重", "critical"),
    "invalid_text": ("请输入 1 到 2000 个字。", "Enter 1 to 2000 characters."),
    "forbidden": ("没有权限。", "Not allowed."),
    "severity": ("级别", "Severity"),
    "yes": ("是", "yes"),
    "no": ("否", "no"),
    "source": ("来源", "Source"),
    "devices": ("设备", "Devices"),
    "devices_reported": ("已上报设备", "Devices reported"),
    "stand_ins": ("替代设备", "Stand-in devices"),
    "stand_in_used": ("使用替代设备", "Stand-in used"),
    "identity_checks": ("身份核验", "Identity checks"),
    "identity_summary": ("核验结果", "Identity results"),
    "prohibited_programs": ("禁用程序", "Prohibited programs"),
    "finish_reason": ("结束原因", "Finish reason"),
    "tracks": ("录像轨道", "Tracks"),
    "bytes": ("字节", "Bytes"),
    "last_seq": ("最后段号", "Last seq"),
    "at_entry": ("进入时", "At entry"),
    "total": ("合计", "Total"),
    "by_kind": ("按类型", "By kind"),
    "by_severity": ("按级别", "By severity"),
    "severe": ("严重", "Severe"),
    "warning": ("警告", "Warning"),
    "info": ("提示", "Info"),
    "name": ("名称", "Name"),
    "whole_report": ("完整报告", "The whole report"),
}


def choose(request: Request) -> str:
    """The language for this request: query, cookie, Accept-Language, else Chinese."""
    asked = request.query_params.get("lang", "")
    if asked in LANGUAGES:
        return asked
    remembered = request.cookies.get(LANG_COOKIE, "")
    if remembered in LANGUAGES:
        return remembered
    header = request.headers.get("accept-language", "")
    first = header.split(",")[0].strip().lower()
    return "en" if first.startswith("en") else "zh"


def t(lang: str, key: str, **values: object) -> str:
    """The string ``key`` in ``lang`` with ``values`` filled in (the key when unknown)."""
    pair = STRINGS.get(key)
    if pair is None:
        return key
    text = pair[1] if lang == "en" else pair[0]
    return text.format(**values) if values else text
