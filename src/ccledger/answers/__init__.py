"""Questions asked of the ledger, answered as result models (``ccledger.models``).

- ``queries``: one function per question (cost by repo, summaries, sessions, status), shared
  by the MCP tools and the CLI;
- ``periods``: time windows from the phrases people and models use ("today", "last 7 days");
- ``blocks``: 5-hour blocks, burn rate and projections, as pure functions;
- ``pace``: blocks, burn and pace over a week or month, read from the ledger;
- ``limits``: Claude's own usage limits, as Claude Code reports them to a statusline;
- ``budgets``: spending limits per repo or overall, where they stand, and their alerts.
"""
