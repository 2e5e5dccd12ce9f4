"""``python -m gbmtl.tuning CONFIG.toml ...``: the same as ``gbmtl tune``."""

import sys

from gbmtl.tuning._cli import tune_main

if __name__ == "__main__":
    sys.exit(tune_main())
