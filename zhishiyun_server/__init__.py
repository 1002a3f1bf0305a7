"""Zhishiyun reference exam server (FastAPI + SQLAlchemy)."""

__version__ = "0.1.0"
