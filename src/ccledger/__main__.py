"""Run ccledger as ``python -m ccledger``."""

from .entry import main

main()
