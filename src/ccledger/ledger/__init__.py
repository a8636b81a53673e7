"""The ledger: one SQLite file that keeps everything a refresh has seen.

- ``db``: the schema as readable DDL, its migrations, and the one way to open the file;
- ``rollup``: ``response_costs`` summed per 15-minute bucket, kept exact as responses arrive,
  so that answers over months read thousands of rows rather than millions.
"""
