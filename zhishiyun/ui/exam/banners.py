"""Warning banners at the top of the exam window: shown, replaced and cleared by key."""

from __future__ import annotations

from zhishiyun.ui.qt import QLabel, QVBoxLayout, QWidget
from zhishiyun.ui.widgets import label

TONES = {"orange": ("#fdf0dc", "#8a4b00"), "red": ("#fde7e8", "#a3161b"),
         "blue": ("#e6efff", "#0e4fd6")}


class BannerStackWidget(QWidget):
    """Banners by key; the same key replaces its text (no pile of repeated warnings)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.layout_ = QVBoxLayout(self)
        self.layout_.setContentsMargins(0, 0, 0, 0)
        self.layout_.setSpacing(4)
        self.banners: dict[str, QLabel] = {}

    def show_banner(self, key: str, text: str, tone: str = "orange") -> None:
        """Show (or update) the banner ``key``."""
        banner = self.banners.get(key)
        if banner is None:
            banner = label("", wrap=True, name=f"banner_{key}")
            self.banners[key] = banner
            self.layout_.addWidget(banner)
        background, colour = TONES.get(tone, TONES["orange"])
        banner.setStyleSheet(f"background: {background}; color: {colour}; padding: 8px 12px;"
                             "border-radius: 6px; font-weight: 600;")
        banner.setText("⚠ " + text)
        banner.show()

    def clear_banner(self, key: str) -> None:
        """Remove the banner ``key`` if shown."""
        banner = self.banners.pop(key, None)
        if banner is not None:
            banner.hide()
            banner.deleteLater()

    def clear_all(self) -> None:
        """Remove every banner."""
        for key in list(self.banners):
            self.clear_banner(key)

    def texts(self) -> dict[str, str]:
        """The shown banners' texts by key (tests, screenshots)."""
        return {k: b.text() for k, b in self.banners.items()}
