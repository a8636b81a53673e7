"""Questions asked of the ledger, answered as result models (``ccledger.models``).

- ``queries``: one function per question (cost by repo, summaries, sessions), shared by the
  MCP tools and the CLI, and the names people use for repos and models;
- ``activity``: what the spend bought (activity beside cost) and the weekday-hour heatmap;
- ``claude_totals``: Claude Code's own session totals beside its transcripts (auxiliary cost);
- ``session_activity``: the activity of a page of sessions, for ``queries``;
- ``activity_tally``: how activity rows fold into counts, shared by both;
- ``facts``: the rows every question is answered from (rollup buckets, raw edges, prod
  records), merged exactly in nano-dollars;
- ``pages``: one page of a long answer, sized for what a host hands a model;
- ``periods``: time windows from the phrases people and models use ("today", "last 7 days");
- ``blocks``: 5-hour blocks, burn rate and projections, as pure functions;
- ``pace``: blocks, burn and pace over a week or month, read from the ledger;
- ``limits``: Claude's own usage limits, as Claude Code reports them to a statusline;
- ``budgets``: spending limits per repo or overall, where they stand, and their alerts;
- ``status``: the ledger's own state: what it reads, holds, and could not use or price.
"""
