"""``python -m plateledger``: the same command as ``plateledger``."""

from plateledger.cli.main import main

main()
