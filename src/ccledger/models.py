"""Result models: the Python return types, the MCP tools' output schemas and the CLI's ``--json``.

Field names follow one vocabulary everywhere: ``input_tokens``, ``output_tokens``,
``cache_write_5m_tokens``, ``cache_write_1h_tokens``, ``cache_read_tokens``, ``total_tokens``,
``web_search_requests`` and ``cost_usd``.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

__all__ = ["FileError", "IndexStats"]


class FileError(BaseModel):
    """A transcript path that could not be read."""

    path: str
    error: str = Field(description="Why, e.g. 'permission denied' or 'not a regular file'.")


class IndexStats(BaseModel):
    """What one incremental refresh of the ledger did."""

    roots: list[str] = Field(description="Claude config directories scanned.")
    files_seen: int = Field(description="Transcript files found under the roots.")
    files_read: int = Field(description="Files with new bytes that were read this time.")
    files_missing: int = Field(
        0, description="Known files no longer on disk this time; their responses are kept."
    )
    bytes_read: int = 0
    lines_read: int = 0
    new_responses: int = Field(description="API responses added to the ledger.")
    updated_responses: int = Field(
        0, description="Responses replaced by a more complete copy (streaming, resumed sessions)."
    )
    bad_lines: int = Field(description="Lines that could not be used, by kind in `problems`.")
    problems: dict[str, int] = Field(
        default_factory=dict, description="Problem lines by kind (invalid_json, invalid_usage, ...)."
    )
    synthetic_skipped: int = Field(0, description="Locally generated '<synthetic>' messages, not billed.")
    errors: list[FileError] = Field(default_factory=list, description="Paths that could not be read.")
    seconds: float
