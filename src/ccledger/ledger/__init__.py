"""The ledger: one SQLite file that keeps everything a refresh has seen.

- ``schema``: the schema as readable DDL and its named migrations;
- ``activity``: the DDL of the activity tables (tool results, events, Claude Code's totals);
- ``db``: the one way to open the file, and to write to it;
- ``rollup``: ``response_costs`` summed per 15-minute bucket, kept exact as responses arrive,
  so that answers over months read thousands of rows rather than millions;
- ``activity_rollup``: the same for activity, built on the first activity answer.
"""
