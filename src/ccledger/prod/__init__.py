"""Production telemetry: the LLM usage of apps a team ships, pulled into the same ledger.

Pulled on demand (``pull_prod_telemetry`` / ``ccledger pull``), never on a schedule. Each
``[[prod.sources]]`` entry of the config file names where to pull from and the repo its spend is
charged to; ``sources`` reads them, ``fetch`` gets pages over HTTP, one module per kind turns a
page into records (``anthropic_admin``, ``export``, ``otlp``), and ``pull`` saves them. Answers
then read the records through the ``prod_costs`` view, priced by the same table as Claude Code's.
"""
