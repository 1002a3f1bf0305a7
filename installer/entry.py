"""Entry point of the frozen bundle: the same ``main`` as the ``zhishiyun`` command."""

import multiprocessing
import sys

from zhishiyun.cli import main

if __name__ == "__main__":
    multiprocessing.freeze_support()
    sys.exit(main())
