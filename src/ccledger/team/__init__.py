"""The team ledger: every machine's local ledger pushed to one shared PostgreSQL database.

``connect`` finds the database and who is syncing, ``schema`` keeps its tables (versioned
migrations, as the local ledger's), ``sync`` pushes what changed since the last sync, and
``usage`` answers over the rollup kept there. The local SQLite ledger stays the source of truth
on each machine: the team database is rebuilt from the machines' ledgers by syncing them again.
"""
