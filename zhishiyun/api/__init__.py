"""HTTP client for the exam server: :class:`ServerClient`, typed models, :class:`ApiError`."""

from zhishiyun.api.client import ServerClient, safe_filename
from zhishiyun.api.errors import ApiError

__all__ = ["ApiError", "ServerClient", "safe_filename"]
