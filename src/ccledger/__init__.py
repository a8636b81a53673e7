"""ccledger: a durable SQLite ledger of Claude Code usage and cost, served over MCP."""

__version__ = "0.1.0"
