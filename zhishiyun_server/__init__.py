"""Zhishiyun reference exam server (FastAPI + SQLAlchemy)."""
