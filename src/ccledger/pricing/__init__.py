"""What a response cost: dated per-model prices, and the rules that apply them.

- ``table``: the price table in the ledger, model-id resolution, and the reference ``cost()``
  (long-context tiers on the whole request, 1-hour cache writes, fast mode);
- ``price_file``: the TOML format of the bundled table and of a user's own prices file;
- ``genai``: fallback prices from genai-prices (an optional extra) for non-Claude models.
"""
