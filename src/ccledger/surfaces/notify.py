"""Budget alerts sent to a webhook: a Slack-compatible JSON body, posted with httpx2.

The URL comes from ``CCLEDGER_WEBHOOK_URL`` or the config file (``[budgets] webhook_url``). A
Slack incoming-webhook URL is itself a secret: it is never logged, stored in the ledger or
returned by a tool.
"""

from __future__ import annotations

import os

import httpx2

from ..config import Config
from ..models import BudgetStatus

__all__ = ["NotifyError", "alert_body", "post_alert", "webhook_url"]

TIMEOUT_SECONDS = 10.0


class NotifyError(RuntimeError):
    """The webhook did not accept the alert; the message says why (without the URL)."""


def webhook_url(config: Config) -> str | None:
    """The webhook to alert: ``CCLEDGER_WEBHOOK_URL``, else ``[budgets] webhook_url``."""
    from_env = os.environ.get("CCLEDGER_WEBHOOK_URL", "").strip()
    if from_env:
        return from_env
    section = config.raw.get("budgets")
    url = section.get("webhook_url") if isinstance(section, dict) else None
    return url.strip() if isinstance(url, str) and url.strip() else None


def alert_body(status: BudgetStatus, threshold: float, message: str) -> dict[str, object]:
    """Slack shows ``text``; other receivers can read ``budget``."""
    return {
        "text": f":warning: ccledger: {message}",
        "budget": {
            "id": status.id,
            "scope": status.scope,
            "model": status.model,
            "period": status.period,
            "period_start_utc": status.period_start_utc,
            "amount_usd": status.amount_usd,
            "spent_usd": status.spent_usd,
            "percent": status.percent,
            "status": status.status,
            "threshold": threshold,
            "projected_usd": status.projected_usd,
        },
    }


def post_alert(url: str, body: dict[str, object], *, timeout: float = TIMEOUT_SECONDS) -> None:
    """POST one alert; raises NotifyError unless the webhook answers 2xx."""
    try:
        response = httpx2.post(url, json=body, timeout=timeout)
    except httpx2.TimeoutException as exc:
        raise NotifyError(f"the webhook did not answer within {timeout:g} s") from exc
    except httpx2.HTTPError as exc:
        raise NotifyError(f"the webhook could not be reached ({type(exc).__name__})") from exc
    if not 200 <= response.status_code < 300:
        raise NotifyError(f"the webhook answered HTTP {response.status_code}")
