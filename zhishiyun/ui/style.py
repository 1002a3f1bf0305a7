"""The look of the app, in one place: palette, fonts and the Qt stylesheet.

Widgets choose a variant through dynamic properties (``variant="primary"``,
``role="title"``, ``card="true"``, ``state="pass"``) instead of styling themselves.
"""

from __future__ import annotations

from zhishiyun.ui.qt import QApplication, QFont, QFontDatabase, QWidget

PRIMARY = "#1664ff"
PRIMARY_DARK = "#0e4fd6"
SUCCESS = "#14a05a"
WARNING = "#d97706"
DANGER = "#e5484d"
TEXT = "#1d2330"
MUTED = "#6b7385"
BORDER = "#e3e7ef"
BACKGROUND = "#f3f5f9"
SIDEBAR = "#10213f"

CJK_FAMILIES = ("Microsoft YaHei UI", "Microsoft YaHei", "PingFang SC", "Hiragino Sans GB",
                "Noto Sans CJK SC", "Source Han Sans SC", "WenQuanYi Micro Hei")

STYLESHEET = f"""
QWidget {{ color: {TEXT}; font-size: 14px; }}
QMainWindow, QWidget#page, QScrollArea, QScrollArea > QWidget > QWidget#pageBody {{
    background: {BACKGROUND};
}}
QLabel[role="title"] {{ font-size: 22px; font-weight: 600; }}
QLabel[role="subtitle"] {{ font-size: 16px; font-weight: 600; }}
QLabel[role="muted"] {{ color: {MUTED}; }}
QLabel[role="error"] {{ color: {DANGER}; }}
QLabel[role="ok"] {{ color: {SUCCESS}; }}
QLabel[role="brand"] {{ color: white; font-size: 20px; font-weight: 700; }}
QLabel[role="badge"] {{
    background: {DANGER}; color: white; border-radius: 9px; padding: 0 6px;
    font-size: 12px; min-height: 18px;
}}
QLabel[role="tag"] {{
    background: #e8f0ff; color: {PRIMARY}; border-radius: 4px; padding: 2px 8px;
    font-size: 12px;
}}
QLabel[role="tag"][tone="gray"] {{ background: #eef0f4; color: {MUTED}; }}
QLabel[role="tag"][tone="green"] {{ background: #e3f6ec; color: {SUCCESS}; }}
QLabel[role="tag"][tone="orange"] {{ background: #fdf0dc; color: {WARNING}; }}
QLabel[role="tag"][tone="red"] {{ background: #fde7e8; color: {DANGER}; }}
QFrame[card="true"] {{
    background: white; border: 1px solid {BORDER}; border-radius: 10px;
}}
QFrame[card="true"] QLabel {{ background: transparent; }}
QPushButton {{
    background: white; border: 1px solid #cdd3df; border-radius: 6px;
    padding: 7px 18px; min-height: 20px;
}}
QPushButton:hover {{ border-color: {PRIMARY}; color: {PRIMARY}; }}
QPushButton:focus {{ border-color: {PRIMARY}; }}
QPushButton:disabled {{ color: #a9b0bf; background: #f1f3f7; border-color: #e1e5ec; }}
QPushButton[variant="primary"] {{
    background: {PRIMARY}; color: white; border: 1px solid {PRIMARY};
}}
QPushButton[variant="primary"]:hover {{ background: {PRIMARY_DARK}; color: white; }}
QPushButton[variant="primary"]:focus {{ border: 2px solid #9cbcff; }}
QPushButton[variant="primary"]:disabled {{
    background: #a9c2f5; border-color: #a9c2f5; color: #f4f7ff;
}}
QPushButton[variant="danger"] {{ color: {DANGER}; border-color: #f2b8ba; }}
QPushButton[variant="link"] {{
    background: transparent; border: none; color: {PRIMARY}; padding: 2px 4px;
}}
QPushButton[variant="link"]:hover {{ text-decoration: underline; }}
QLineEdit, QComboBox {{
    background: white; border: 1px solid #cdd3df; border-radius: 6px; padding: 7px 10px;
    min-height: 20px;
}}
QLineEdit:focus, QComboBox:focus {{ border-color: {PRIMARY}; }}
QCheckBox {{ spacing: 8px; }}
QProgressBar {{
    background: #e9edf3; border: none; border-radius: 4px; height: 8px; text-align: center;
    color: transparent;
}}
QProgressBar::chunk {{ background: {PRIMARY}; border-radius: 4px; }}
QProgressBar[tone="level"]::chunk {{ background: {SUCCESS}; }}
QWidget#sidebar {{ background: {SIDEBAR}; }}
QWidget#sidebar QPushButton {{
    background: transparent; color: #c9d3e6; border: none; border-radius: 6px;
    text-align: left; padding: 10px 16px; font-size: 15px;
}}
QWidget#sidebar QPushButton:hover {{ background: #1c3360; color: white; }}
QWidget#sidebar QPushButton:checked {{ background: {PRIMARY}; color: white; }}
QPushButton[paperTab="true"]:checked {{ background: {PRIMARY}; color: white;
    border-color: {PRIMARY}; font-weight: 600; }}
QWidget#sidebar QPushButton:focus {{ outline: none; border: 1px solid #5f8dff; }}
QWidget#header {{ background: white; border-bottom: 1px solid {BORDER}; }}
QToolButton#nameMenu {{
    border: none; padding: 6px 10px; font-size: 14px; border-radius: 6px;
}}
QToolButton#nameMenu:hover {{ background: #eef2fa; }}
QToolButton#nameMenu::menu-indicator {{ subcontrol-position: right center; }}
QMenu {{ background: white; border: 1px solid {BORDER}; border-radius: 8px; padding: 6px; }}
QMenu::item {{ padding: 8px 28px 8px 16px; border-radius: 4px; }}
QMenu::item:selected {{ background: #eef2fa; color: {PRIMARY}; }}
QMenu::separator {{ height: 1px; background: {BORDER}; margin: 4px 8px; }}
QStatusBar {{ background: white; border-top: 1px solid {BORDER}; color: {MUTED}; }}
QStatusBar QLabel {{ color: {MUTED}; padding: 0 10px; font-size: 13px; }}
QListWidget {{ background: white; border: 1px solid {BORDER}; border-radius: 10px; }}
QListWidget::item {{ padding: 12px; border-bottom: 1px solid #eef1f6; }}
QListWidget::item:selected {{ background: #eaf1ff; color: {TEXT}; }}
QTextBrowser {{ background: white; border: 1px solid {BORDER}; border-radius: 10px;
    padding: 12px; }}
QLabel#preview {{ background: #0d1526; color: #c9d3e6; border-radius: 8px; }}
QWidget#loginHero {{ background: qlineargradient(x1:0, y1:0, x2:1, y2:1,
    stop:0 #0f3fb5, stop:1 #1b7cff); }}
QLabel[role="heroTitle"] {{ color: white; font-size: 30px; font-weight: 700;
    background: transparent; }}
QLabel[role="heroText"] {{ color: #dbe6ff; font-size: 15px; background: transparent; }}
"""


def apply_style(app: QApplication) -> None:
    """Install the stylesheet and a CJK-capable application font."""
    families = set(QFontDatabase.families())
    chosen = [f for f in CJK_FAMILIES if f in families]
    font = QFont(app.font())
    if chosen:
        font.setFamilies(chosen + [font.family()])
    font.setPointSizeF(10.5)
    app.setFont(font)
    app.setStyle("Fusion")
    app.setStyleSheet(STYLESHEET)


def set_variant(widget: QWidget, name: str, value: str) -> QWidget:
    """Set a style property and re-polish so the stylesheet picks it up."""
    widget.setProperty(name, value)
    style = widget.style()
    style.unpolish(widget)
    style.polish(widget)
    return widget
