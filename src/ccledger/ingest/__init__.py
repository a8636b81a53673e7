"""Transcript files in, ledger rows out: the incremental index.

A refresh runs these stages, each a module that owns one step:

- ``scan``: the ``*.jsonl`` files under the roots, and a plan per file of where to start
  reading (new bytes only; a rewritten file again from its start);
- ``lines``: a file's complete new lines that carry usage, read from the planned offset;
- ``transcript``: one line into one billable response (or a named problem);
- ``activity``: what the same lines say was done: tool uses and their results, prompts, slash
  commands, compactions, errors, Claude Code's own session totals (metadata only);
- ``file_result``: one file's responses de-duplicated among themselves, as rows, with the
  repos of its working directories (``repos``);
- ``merge``: those rows merged into the ledger, the cross-file half of de-duplication;
- ``activity_rows``: a file's activity as keyed rows, and the upserts that keep them exact;
- ``index``: the refresh itself: plans, reads, writes in one transaction per batch, and
  ``stats``, what it did.

``speedups`` holds what only makes a large refresh faster (a helper process, a head start, a
paused collector); a refresh without any of it writes the same ledger.
"""
