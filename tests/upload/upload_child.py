"""``zhishiyun upload --wait`` as its own process, logged in with a token read from stdin.

Usage: python upload_child.py SERVER_URL DATA_DIR < token. The token goes to the token
store in memory (the test sets a keyring backend that refuses, as on a headless box).
"""

import sys

from zhishiyun.api.tokens import TokenStore
from zhishiyun.cli import main

TokenStore(sys.argv[1]).set(sys.stdin.readline().strip())
sys.exit(main(["upload", "--wait", "--data-dir", sys.argv[2]]))
