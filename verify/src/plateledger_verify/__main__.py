"""``python -m plateledger_verify``: the ``plateledger-verify`` command line."""

import sys

from plateledger_verify.cli import main

sys.exit(main())
