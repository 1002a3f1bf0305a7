"""``python -m zhishiyun_server``: same as the ``zhishiyun-server`` command."""

import sys

from zhishiyun_server.cli import main

sys.exit(main())
