"""Run ccledger as ``python -m ccledger``."""

from .cli import main

main()
