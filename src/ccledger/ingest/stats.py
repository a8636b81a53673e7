"""What a refresh of the ledger did: ``index.refresh``'s result, ``ccledger index --json``.

Plain dataclasses rather than pydantic models like the other results (``models.py``): creating
the first pydantic model of a process costs a tenth of a second, and ``ccledger index`` needs
no other. The result models that carry them (``IndexStatus``) still validate and describe them:
pydantic reads dataclasses, and the attribute docstrings below become the schema's descriptions.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, ClassVar

__all__ = ["FileError", "IndexStats"]

# Read by pydantic when a result model or an MCP output schema includes these classes.
_PYDANTIC_CONFIG = {"use_attribute_docstrings": True}


@dataclasses.dataclass
class FileError:
    """A transcript path that could not be read."""

    __pydantic_config__: ClassVar[dict[str, Any]] = _PYDANTIC_CONFIG

    path: str
    error: str
    """Why, e.g. 'permission denied' or 'not a regular file'."""


@dataclasses.dataclass(kw_only=True)
class IndexStats:
    """What one incremental refresh of the ledger did."""

    __pydantic_config__: ClassVar[dict[str, Any]] = _PYDANTIC_CONFIG

    roots: list[str]
    """Claude config directories scanned."""
    files_seen: int
    """Transcript files found under the roots."""
    files_read: int
    """Files with new bytes that were read this time."""
    files_missing: int = 0
    """Known files no longer on disk this time; their responses are kept."""
    bytes_read: int = 0
    lines_read: int = 0
    new_responses: int
    """API responses added to the ledger."""
    updated_responses: int = 0
    """Responses replaced by a more complete copy (streaming, resumed sessions)."""
    bad_lines: int
    """Lines that could not be used, by kind in `problems`."""
    problems: dict[str, int] = dataclasses.field(default_factory=dict)
    """Problem lines by kind (invalid_json, invalid_usage, ...)."""
    synthetic_skipped: int = 0
    """Locally generated '<synthetic>' messages, not billed."""
    errors: list[FileError] = dataclasses.field(default_factory=list)
    """Paths that could not be read."""
    seconds: float
    read_only: bool = False
    """The ledger could not be written here: nothing was indexed, answers come from what it holds."""

    def to_json(self) -> str:
        """The stats as indented JSON (``ccledger index --json``)."""
        return json.dumps(dataclasses.asdict(self), indent=2)
