"""Layout checks: a widget fully visible in its window, and key widgets not overlapping.

Screen sizes are laptop screens at the usual display scalings. A 1366×768 screen at 150 %
gives the app 911×512 logical pixels: Qt lays out in logical pixels (fonts scale with the
factor), so rendering at the logical size is what the candidate sees, whatever the platform.
"""

from __future__ import annotations

import time

from zhishiyun.ui.qt import QApplication, QRect, QScrollArea, QWidget

SCREENS = ((1366, 768), (1280, 720))
SCALES = (1.0, 1.25, 1.5)
#: (label, logical width, logical height) of every screen × scaling.
SIZES = tuple((f"{w}x{h}@{int(s * 100)}%", int(w / s), int(h / s))
              for w, h in SCREENS for s in SCALES)


def resize_window(window: QWidget, width: int, height: int) -> None:
    """Give a top window exactly ``width``×``height`` (offscreen applies it a bit later)."""
    if window.isFullScreen() or window.isMaximized():
        window.showNormal()
    for _attempt in range(50):
        window.resize(width, height)
        QApplication.processEvents()
        if (window.width(), window.height()) == (width, height):
            break
        time.sleep(0.02)
    QApplication.processEvents()
    assert (window.width(), window.height()) == (width, height), (
        f"the window refuses {width}×{height}: minimum {window.minimumSize().toTuple()}")


def _scroll_into_view(widget: QWidget) -> None:
    """Scroll every enclosing scroll area to the widget, as the candidate would."""
    parent = widget.parentWidget()
    while parent is not None:
        area = parent.parentWidget()
        if isinstance(area, QScrollArea) and parent is area.viewport():
            area.ensureWidgetVisible(widget, 0, 0)
            QApplication.processEvents()
        parent = parent.parentWidget()


def window_rect(widget: QWidget) -> QRect:
    """The widget's rectangle in its top window's coordinates."""
    top_left = widget.mapTo(widget.window(), widget.rect().topLeft())
    return QRect(top_left, widget.size())


def problems_showing(widget: QWidget, name: str) -> list[str]:
    """Why ``widget`` is not fully visible (empty when it is)."""
    _scroll_into_view(widget)
    if not widget.isVisible():
        return [f"{name} is hidden"]
    if widget.width() < 2 or widget.height() < 2:
        return [f"{name} has no size ({widget.width()}×{widget.height()})"]
    window = widget.window()
    rect = window_rect(widget)
    if not window.rect().contains(rect):
        return [f"{name} at {rect.getRect()} is outside the {window.width()}×"
                f"{window.height()} window"]
    visible = widget.visibleRegion()
    if visible.intersected(widget.rect()) != visible or not visible.contains(widget.rect()) \
            or visible.boundingRect() != widget.rect():
        return [f"{name} is clipped: {visible.boundingRect().getRect()} of "
                f"{widget.rect().getRect()} visible"]
    return []


def shown_rect(widget: QWidget) -> QRect:
    """The part of the widget its ancestors do not clip (scrolled away = empty), in window
    coordinates."""
    rect = window_rect(widget)
    parent = widget.parentWidget()
    while parent is not None and not parent.isWindow():
        rect = rect.intersected(window_rect(parent))
        parent = parent.parentWidget()
    return rect


def _related(a: QWidget, b: QWidget) -> bool:
    return a.isAncestorOf(b) or b.isAncestorOf(a)


def assert_layout(widgets: dict[str, QWidget], size: str, overlap: bool = True) -> None:
    """Every widget fully visible; no two of them overlap (unless one contains the other)."""
    QApplication.processEvents()
    problems = []
    for name, widget in widgets.items():
        problems += problems_showing(widget, name)
    if overlap:
        items = list(widgets.items())
        for i, (name_a, a) in enumerate(items):
            for name_b, b in items[i + 1:]:
                if a.isVisible() and b.isVisible() and not _related(a, b) and \
                        a.window() is b.window() and \
                        shown_rect(a).intersects(shown_rect(b)):
                    problems.append(f"{name_a} {shown_rect(a).getRect()} overlaps {name_b} "
                                    f"{shown_rect(b).getRect()}")
    assert not problems, f"at {size}: " + "; ".join(problems)
