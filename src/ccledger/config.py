"""The user's config file (``CCLEDGER_CONFIG``, default ``~/.config/ccledger/config.toml``).

Everything in it is optional::

    timezone = "Europe/Berlin"   # day/week/month boundaries; default: this machine's zone

Secrets never live here: tokens come from the environment only.
"""

from __future__ import annotations

import os
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from . import paths

__all__ = ["Config", "ConfigError", "load_config", "local_timezone"]


class ConfigError(ValueError):
    """The config file is invalid; the message names the file and, where known, the line."""


class Config:
    """Settings read from the config file, with defaults for everything.

    A plain class, and TOML is parsed only when a file exists: the statusline reads the
    timezone from here on every tick.
    """

    def __init__(self, path: Path, timezone: str | None = None, raw: dict[str, object] | None = None) -> None:
        self.path = path
        self.timezone = timezone
        self.raw: dict[str, object] = raw or {}

    def zone(self) -> ZoneInfo:
        """The timezone that day, week and month boundaries follow."""
        return ZoneInfo(self.timezone) if self.timezone else local_timezone()


def load_config(path: Path | None = None) -> Config:
    """Read the config file; a missing file means all defaults."""
    path = path or paths.config_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Config(path=path)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file ({exc.strerror})") from exc
    import tomllib  # here, not at the top: most machines have no config file

    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    timezone = raw.get("timezone")
    if timezone is not None:
        if not isinstance(timezone, str):
            raise ConfigError(f"{path}:{_line_of(text, 'timezone')}: timezone must be a string like 'Europe/Berlin'")
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ConfigError(
                f"{path}:{_line_of(text, 'timezone')}: unknown timezone {timezone!r}; "
                "use an IANA name such as 'America/New_York' or 'UTC'"
            ) from exc
    return Config(path=path, timezone=timezone, raw=raw)


def _line_of(text: str, key: str) -> int:
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip().startswith(key):
            return number
    return 1


def local_timezone() -> ZoneInfo:
    """This machine's IANA timezone (``TZ``, then /etc/localtime), UTC when unknown."""
    name = os.environ.get("TZ", "").lstrip(":")
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    try:
        target = os.path.realpath("/etc/localtime")
        marker = "zoneinfo" + os.sep
        if marker in target:
            return ZoneInfo(target.split(marker, 1)[1])
    except (OSError, ZoneInfoNotFoundError, ValueError):
        pass
    return ZoneInfo("UTC")
