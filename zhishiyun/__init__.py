"""Zhishiyun: a desktop proctoring client (the core runs headless; Qt lives in ``zhishiyun.ui``)."""

__version__ = "0.1.0"
APP_NAME = "Zhishiyun"
APP_ID = "cn.zhishiyun.client"
