"""The ledger: one SQLite file that keeps everything a refresh has seen.

- ``schema``: the schema as readable DDL and its named migrations;
- ``activity``: the DDL of the activity tables (tool results, events, Claude Code's totals);
- ``db``: the one way to open the file, and to write to it;
- ``rollup``: ``response_costs`` summed per 15-minute bucket, kept exact as responses arrive,
  so that answers over months read thousands of rows rather than millions;
- ``usage_daily``: the same sums per UTC day, for long windows;
- ``activity_rollup``: the same for activity (per bucket and per day), built on the first
  activity answer.
"""
