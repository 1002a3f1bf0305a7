"""Reporters: a readable table, the JSON QA scripts read, JUnit XML for CI systems."""

from __future__ import annotations

import json
import unicodedata
import xml.etree.ElementTree as ET
from pathlib import Path

from zhishiyun.checks.base import Status
from zhishiyun.checks.runner import CheckReport
from zhishiyun.i18n import _

_STATUS_LABELS = {
    Status.PASS: "PASS",
    Status.WARN: "WARN",
    Status.FAIL: "FAIL",
    Status.SKIP: "SKIP",
}


def display_width(text: str) -> int:
    """Columns ``text`` takes in a terminal (CJK characters take two)."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _pad(text: str, width: int) -> str:
    return text + " " * max(0, width - display_width(text))


def to_json(report: CheckReport) -> str:
    """``{ok, checks:[{id,status,message,details,fix,…}], started_at, duration_ms, …}``."""
    return json.dumps(report.to_dict(), ensure_ascii=False, indent=2, default=str)


def to_table(report: CheckReport) -> str:
    """One line per check (status, title, message), the fix indented below; a summary."""
    titles = [r.title or r.id for r in report.results]
    width = max([display_width(t) for t in titles] + [4])
    lines = []
    for result, title in zip(report.results, titles, strict=True):
        mark = _STATUS_LABELS[result.status]
        if result.blocking and result.failed:
            mark += "!"
        lines.append(f"{mark:<5} {_pad(title, width)}  {result.message}")
        if result.fix and result.status in (Status.FAIL, Status.WARN):
            lines.append(f"{'':<5} {'':<{width}}  → {result.fix}")
    counts = {s: sum(r.status is s for r in report.results) for s in Status}
    summary = _("{passed} passed, {warned} warnings, {failed} failed, {skipped} skipped "
                "in {seconds:.1f} s.").format(
        passed=counts[Status.PASS], warned=counts[Status.WARN], failed=counts[Status.FAIL],
        skipped=counts[Status.SKIP], seconds=report.duration_ms / 1000)
    lines.append("")
    lines.append(summary)
    if report.blocked:
        lines.append(_("A check marked FAIL! must pass before you can enter the exam."))
    return "\n".join(lines)


def to_junit(report: CheckReport) -> bytes:
    """JUnit XML: one testcase per check; fail → failure, skip → skipped, warn → pass + note."""
    counts = {s: sum(r.status is s for r in report.results) for s in Status}
    suites = ET.Element("testsuites", name="zhishiyun check", tests=str(len(report.results)),
                        failures=str(counts[Status.FAIL]), errors="0",
                        skipped=str(counts[Status.SKIP]),
                        time=f"{report.duration_ms / 1000:.3f}")
    suite = ET.SubElement(
        suites, "testsuite", name="zhishiyun.checks", tests=str(len(report.results)),
        failures=str(counts[Status.FAIL]), errors="0", skipped=str(counts[Status.SKIP]),
        time=f"{report.duration_ms / 1000:.3f}",
        timestamp=report.started_at.isoformat(timespec="seconds"))
    props = ET.SubElement(suite, "properties")
    ET.SubElement(props, "property", name="client_version", value=report.client_version)
    for result in report.results:
        case = ET.SubElement(suite, "testcase", classname="zhishiyun.checks", name=result.id,
                             time=f"{result.duration_ms / 1000:.3f}")
        body = json.dumps(result.details, ensure_ascii=False, default=str)
        if result.status is Status.FAIL:
            failure = ET.SubElement(case, "failure", message=result.message,
                                    type="blocking" if result.blocking else "non_blocking")
            failure.text = f"{result.message}\n{result.fix}\n{body}"
        elif result.status is Status.SKIP:
            ET.SubElement(case, "skipped", message=result.message)
        out = ET.SubElement(case, "system-out")
        out.text = f"{result.status.value.upper()}: {result.message}\n{body}"
    ET.indent(suites)
    return ET.tostring(suites, encoding="utf-8", xml_declaration=True)


def write_junit(report: CheckReport, path: Path) -> None:
    """Write :func:`to_junit` to ``path`` (parent directories created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(to_junit(report))
