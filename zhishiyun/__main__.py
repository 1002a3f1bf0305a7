"""``python -m zhishiyun`` runs the same entry point as the ``zhishiyun`` command."""

import sys

from zhishiyun.cli import main

sys.exit(main())
