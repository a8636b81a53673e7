"""Where people and models meet the answers: each surface is thin over ``answers``.

- ``server``: the MCP server, one tool per question (``ccledger serve``);
- ``tool_parts``: what every tool is made of: argument types, hints to the host, the reply;
- ``http_transport``: the same server over streamable HTTP, safe by default;
- ``cli``: the ``ccledger`` command line, with ``console`` (what every command shares) and
  ``render`` (its tables and CSV);
- ``setup``: ``ccledger setup``, registering the server and the statusline in Claude Code;
- ``statusline``: the Claude Code statusline command, kept light;
- ``notify``: budget alerts posted to a webhook.
"""
