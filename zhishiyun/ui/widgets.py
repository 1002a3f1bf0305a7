"""Small building blocks shared by the pages: cards, labels, tags, the video preview."""

from __future__ import annotations

from zhishiyun.ui.qt import (
    QFrame,
    QHBoxLayout,
    QImage,
    QLabel,
    QPixmap,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    Qt,
    QVBoxLayout,
    QWidget,
)
from zhishiyun.ui.style import set_variant


def label(text: str = "", role: str = "", *, wrap: bool = False, selectable: bool = False,
          name: str = "") -> QLabel:
    """A label with a style role (title, subtitle, muted, error, ok, tag, badge)."""
    widget = QLabel(text)
    if role:
        widget.setProperty("role", role)
    if name:
        widget.setObjectName(name)
    widget.setWordWrap(wrap)
    if selectable:
        widget.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return widget


def tag(text: str, tone: str = "") -> QLabel:
    """A small coloured tag (blue by default; gray, green, orange, red)."""
    widget = label(text, "tag")
    if tone:
        widget.setProperty("tone", tone)
    widget.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Fixed)
    return widget


def retone(widget: QLabel, text: str, tone: str) -> None:
    """Change a tag's text and tone."""
    widget.setText(text)
    set_variant(widget, "tone", tone)


def button(text: str, variant: str = "", *, name: str = "") -> QPushButton:
    """A push button with a style variant (primary, danger, link)."""
    widget = QPushButton(text)
    if variant:
        widget.setProperty("variant", variant)
    if name:
        widget.setObjectName(name)
    widget.setCursor(Qt.CursorShape.PointingHandCursor)
    return widget


class CardWidget(QFrame):
    """A white rounded panel; ``body`` is its vertical layout."""

    def __init__(self, parent: QWidget | None = None, margins: int = 20) -> None:
        super().__init__(parent)
        self.setProperty("card", "true")
        self.body = QVBoxLayout(self)
        self.body.setContentsMargins(margins, margins - 4, margins, margins - 4)
        self.body.setSpacing(10)


def scrolling_layout(owner: QWidget) -> QVBoxLayout:
    """A vertical layout in a frameless scroll area filling ``owner``.

    A short window (a laptop at 150 % scaling) then scrolls the content instead of
    squeezing it until widgets overlap.
    """
    outer = QVBoxLayout(owner)
    outer.setContentsMargins(0, 0, 0, 0)
    scroll = QScrollArea()
    scroll.setWidgetResizable(True)
    scroll.setFrameShape(QFrame.Shape.NoFrame)
    scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
    body = QWidget()
    body.setObjectName("scrollBody")
    scroll.setWidget(body)
    outer.addWidget(scroll)
    return QVBoxLayout(body)


class PageWidget(QWidget):
    """A scrollable page with a title row; add content to ``content``."""

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("page")
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        body = QWidget()
        body.setObjectName("pageBody")
        self.content = QVBoxLayout(body)
        self.content.setContentsMargins(28, 22, 28, 22)
        self.content.setSpacing(16)
        self.title_row = QHBoxLayout()
        self.title_label = label(title, "title")
        self.title_row.addWidget(self.title_label)
        self.title_row.addStretch(1)
        self.content.addLayout(self.title_row)
        scroll.setWidget(body)
        outer.addWidget(scroll)


class PreviewWidget(QLabel):
    """Shows video frames (RGB numpy arrays or QImages), scaled to fit, or a placeholder text.

    With ``mirror`` set, frames are shown mirrored like a looking-glass (a self-view feels
    natural that way); only the display: recordings keep the camera's own picture.
    """

    def __init__(self, placeholder: str = "", parent: QWidget | None = None) -> None:
        super().__init__(placeholder, parent)
        self.setObjectName("preview")
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setMinimumSize(320, 240)
        self.setWordWrap(True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self._image: QImage | None = None
        self.mirror = False

    def show_placeholder(self, text: str) -> None:
        """Drop the picture and show ``text`` instead."""
        self._image = None
        self.setPixmap(QPixmap())
        self.setText(text)

    def show_frame(self, frame, mirror: bool | None = None) -> None:
        """Show one frame: a QImage or an RGB ``numpy`` array (H×W×3, uint8).

        ``mirror`` overrides the widget's setting (a recording played back, a photo).
        """
        if isinstance(frame, QImage):
            image = frame
        else:
            height, width = frame.shape[:2]
            image = QImage(frame.tobytes(), width, height, width * 3,
                           QImage.Format.Format_RGB888)
        if self.mirror if mirror is None else mirror:
            image = image.flipped(Qt.Orientation.Horizontal)
        self._image = image
        self._rescale()

    def has_frame(self) -> bool:
        """Whether a picture (not the placeholder) is shown."""
        return self._image is not None

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt override
        """Rescale the picture with the label."""
        super().resizeEvent(event)
        self._rescale()

    def _rescale(self) -> None:
        if self._image is None:
            return
        ratio = self.devicePixelRatioF()
        pixmap = QPixmap.fromImage(self._image).scaled(
            self.size() * ratio, Qt.AspectRatioMode.KeepAspectRatio,
            Qt.TransformationMode.SmoothTransformation)
        pixmap.setDevicePixelRatio(ratio)
        self.setPixmap(pixmap)
