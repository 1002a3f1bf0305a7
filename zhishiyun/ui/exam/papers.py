"""Papers: PDF (rendered with pypdfium2), images and text; switchable, refreshable, zoomable."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from zhishiyun.i18n import _
from zhishiyun.ui.model import get
from zhishiyun.ui.qt import (
    QButtonGroup,
    QFrame,
    QHBoxLayout,
    QImage,
    QLabel,
    QPixmap,
    QScrollArea,
    QStackedWidget,
    Qt,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
    Signal,
)
from zhishiyun.ui.widgets import button, label

log = logging.getLogger(__name__)
QUESTION = re.compile(r"^\s*(\d{1,3})\s*[.．、]", re.MULTILINE)
ZOOMS = (0.6, 0.8, 1.0, 1.25, 1.5, 2.0, 3.0)


@dataclass
class LoadedPaper:
    """A paper with its bytes (or the error that stopped loading them)."""

    paper: Any
    data: bytes = b""
    error: str = ""

    @property
    def kind(self) -> str:
        """pdf, image or text."""
        return str(get(self.paper, "kind", "text"))

    @property
    def title(self) -> str:
        """The paper's title."""
        return str(get(self.paper, "title", ""))

    def text(self) -> str:
        """The paper's text (PDF: extracted; image: empty)."""
        if self.kind == "text":
            return self.data.decode("utf-8", "replace")
        if self.kind == "pdf" and self.data:
            try:
                import pypdfium2 as pdfium

                doc = pdfium.PdfDocument(self.data)
                return "\n".join(doc[i].get_textpage().get_text_range()
                                 for i in range(len(doc)))
            except Exception as exc:  # noqa: BLE001 - a damaged PDF still shows its error
                log.info("no text from %s: %s", self.title, exc)
        return ""


def question_ids(papers: list[LoadedPaper]) -> list[str]:
    """Question numbers found in the papers (``1.``, ``2、`` at a line start), in order."""
    found: list[str] = []
    for paper in papers:
        for match in QUESTION.finditer(paper.text()):
            if match.group(1) not in found:
                found.append(match.group(1))
    return found


def render_pdf(data: bytes, zoom: float) -> list[QImage]:
    """Every page of a PDF as an image at ``zoom`` (1.0 ≈ 96 dpi on screen)."""
    import pypdfium2 as pdfium

    images = []
    doc = pdfium.PdfDocument(data)
    for index in range(len(doc)):
        array = doc[index].render(scale=zoom * 1.33, rev_byteorder=True).to_numpy()
        height, width = array.shape[:2]
        image = QImage(array.tobytes(), width, height, width * 3, QImage.Format.Format_RGB888)
        images.append(image.copy())
    return images


class PaperViewWidget(QWidget):
    """A list of papers on the left, the chosen one on the right, with zoom and refresh.

    ``refresh_requested`` asks the window to load the papers again (after a failure).
    """

    refresh_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.papers: list[LoadedPaper] = []
        self.zoom = 1.0
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        # The paper tabs get a row of their own that scrolls sideways when the window is
        # narrow; zoom and refresh sit under it.
        self.tabs = QButtonGroup(self)
        self.tabs.setExclusive(True)
        self.tabs.idClicked.connect(self._show)
        tab_strip = QWidget()
        self.tab_row = QHBoxLayout(tab_strip)
        self.tab_row.setContentsMargins(0, 0, 0, 0)
        self.tab_row.setSpacing(6)
        self.tab_row.addStretch(1)
        self.tab_scroll = QScrollArea()
        self.tab_scroll.setObjectName("paperTabs")
        self.tab_scroll.setWidgetResizable(True)
        self.tab_scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.tab_scroll.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.tab_scroll.setWidget(tab_strip)
        layout.addWidget(self.tab_scroll)
        tools = QHBoxLayout()
        tools.addStretch(1)
        self.current = -1
        self.zoom_out = button("−", name="zoomOut")
        self.zoom_in = button("+", name="zoomIn")
        self.zoom_label = label("100%", "muted")
        self.refresh_button = button(_("Refresh papers"), name="refreshPapers")
        self.zoom_out.clicked.connect(lambda: self.set_zoom(-1))
        self.zoom_in.clicked.connect(lambda: self.set_zoom(+1))
        self.refresh_button.clicked.connect(self.refresh_requested.emit)
        for widget in (self.zoom_out, self.zoom_label, self.zoom_in, self.refresh_button):
            tools.addWidget(widget)
        layout.addLayout(tools)
        self.refresh_note = label("", "muted", wrap=True, name="refreshNote")
        self.refresh_note.hide()
        layout.addWidget(self.refresh_note)
        self.stack = QStackedWidget()
        self.message = label("", "muted", wrap=True, name="paperMessage")
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.text_view = QTextBrowser()
        self.text_view.setObjectName("paperText")
        self.pages_scroll = QScrollArea()
        self.pages_scroll.setWidgetResizable(True)
        self.pages_body = QWidget()
        self.pages_layout = QVBoxLayout(self.pages_body)
        self.pages_layout.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        self.pages_scroll.setWidget(self.pages_body)
        for widget in (self.message, self.text_view, self.pages_scroll):
            self.stack.addWidget(widget)
        layout.addWidget(self.stack, 1)

    def show_message(self, text: str) -> None:
        """Show a message (loading, failed) instead of a paper."""
        self.message.setText(text)
        self.stack.setCurrentWidget(self.message)

    def set_papers(self, papers: list[LoadedPaper]) -> None:
        """Show these papers (the first one at once; after 刷新试卷 the one shown before).

        After a refresh, :attr:`refresh_note` says what changed.
        """
        before = {p.title: p.data for p in self.papers}
        keep = self.current if self.papers else 0
        if self.papers:
            added = sum(1 for p in papers if p.title not in before)
            changed = sum(1 for p in papers if p.title in before and before[p.title] != p.data)
            removed = sum(1 for title in before if title not in {p.title for p in papers})
            parts = [_("{n} papers").format(n=len(papers))]
            if added:
                parts.append(_("{n} new").format(n=added))
            if changed:
                parts.append(_("{n} changed").format(n=changed))
            if removed:
                parts.append(_("{n} withdrawn").format(n=removed))
            if len(parts) == 1:
                parts.append(_("nothing changed"))
            self.refresh_note.setText(_("Refreshed at {time}: {what}.").format(
                time=datetime.now().strftime("%H:%M:%S"), what=_(", ").join(parts)))
            self.refresh_note.show()
        self.papers = papers
        for old in self.tabs.buttons():
            self.tabs.removeButton(old)
            old.deleteLater()
        for index, paper in enumerate(papers):
            tab = button(paper.title + (" ⚠" if paper.error else ""), name=f"paperTab{index}")
            tab.setProperty("paperTab", "true")  # the style marks the checked (current) one
            tab.setCheckable(True)
            tab.setVisible(len(papers) > 1)
            self.tabs.addButton(tab, index)
            self.tab_row.insertWidget(self.tab_row.count() - 1, tab)  # before the stretch
        self.tab_scroll.setVisible(len(papers) > 1)
        if papers:  # one button's height, plus room for the sideways scroll bar
            height = self.tabs.button(0).sizeHint().height()
            self.tab_scroll.setFixedHeight(height + self.tab_scroll.horizontalScrollBar()
                                           .sizeHint().height() + 4)
        if papers:
            self.select(keep if 0 <= keep < len(papers) else 0)
        else:
            self.show_message(_("This exam has no papers."))

    def count(self) -> int:
        """How many papers there are."""
        return len(self.papers)

    def select(self, index: int) -> None:
        """Show paper ``index`` (as clicking its tab does)."""
        tab = self.tabs.button(index)
        if tab is not None:
            tab.setChecked(True)
        self._show(index)

    def set_zoom(self, step: int) -> None:
        """Zoom in (+1) or out (−1)."""
        index = min(range(len(ZOOMS)), key=lambda i: abs(ZOOMS[i] - self.zoom))
        self.zoom = ZOOMS[max(0, min(len(ZOOMS) - 1, index + step))]
        self.zoom_label.setText(f"{round(self.zoom * 100)}%")
        self._show(self.current)

    def _show(self, row: int) -> None:
        if not 0 <= row < len(self.papers):
            return
        self.current = row
        paper = self.papers[row]
        if paper.error:
            self.show_message(_("“{title}” could not be loaded: {error}\nPress Refresh papers "
                                "to try again.").format(title=paper.title, error=paper.error))
            return
        if paper.kind == "text":
            font = self.text_view.font()
            font.setPointSizeF(12 * self.zoom)
            self.text_view.setFont(font)
            self.text_view.setPlainText(paper.text())
            self.stack.setCurrentWidget(self.text_view)
            return
        try:
            if paper.kind == "pdf":
                images = render_pdf(paper.data, self.zoom)
            else:
                image = QImage.fromData(paper.data)
                if image.isNull():
                    raise ValueError(_("not a picture"))
                images = [image.scaledToWidth(max(1, int(image.width() * self.zoom)))]
        except Exception as exc:  # noqa: BLE001 - a damaged paper shows why, never crashes
            log.warning("paper %s not shown: %s", paper.title, exc)
            self.show_message(_("“{title}” cannot be shown: {error}").format(
                title=paper.title, error=exc))
            return
        while self.pages_layout.count():
            item = self.pages_layout.takeAt(0)
            if item.widget():
                item.widget().deleteLater()
        for image in images:
            page = QLabel()
            page.setObjectName("paperPage")
            page.setPixmap(QPixmap.fromImage(image))
            self.pages_layout.addWidget(page)
        self.stack.setCurrentWidget(self.pages_scroll)
