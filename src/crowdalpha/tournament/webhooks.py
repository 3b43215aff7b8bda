"""Submission webhooks: the URL a model's owner wants called when a new round opens.

Like Numerai Compute's trigger: when a round opens, every model with a webhook
gets one POST with a small JSON body (round number, model id and name, a
trigger id), so an automated pipeline can train and submit. Calls happen after
the opening is committed, on background threads with a short timeout: a slow or
dead webhook never delays or undoes the round. Failures are logged, not retried.
"""

from __future__ import annotations

import logging
import threading
import uuid
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from crowdalpha.tournament.db import atomic
from crowdalpha.tournament.errors import InvalidValueError
from crowdalpha.tournament.models import require_owner
from crowdalpha.tournament.tables import Account, Model

log = logging.getLogger(__name__)

MAX_URL_LENGTH = 500
TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True)
class WebhookCall:
    """One POST to make: where, and for which model."""

    url: str
    model_id: str
    model_name: str


def check_webhook_url(url: str) -> str:
    """``url`` if it is an absolute http(s) URL of reasonable length; ``InvalidValueError`` otherwise."""
    text = url.strip()
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidValueError(f"webhook {url[:80]!r} is not an absolute http:// or https:// URL")
    if len(text) > MAX_URL_LENGTH:
        raise InvalidValueError(f"webhook URL is {len(text)} characters, the limit is {MAX_URL_LENGTH}")
    return text


def set_submission_webhook(session: Session, model: Model, url: str | None, *, by: Account) -> Model:
    """Set (or clear, with None or "") the model's webhook; owner only."""
    require_owner(model, by)
    value = check_webhook_url(url) if url else None
    with atomic(session):
        model.submission_webhook = value
        session.flush()
    return model


def round_opened_calls(session: Session) -> list[WebhookCall]:
    """The calls to make for a round opening: one per model with a webhook."""
    rows = session.execute(
        select(Model.submission_webhook, Model.public_id, Model.name)
        .where(Model.submission_webhook.is_not(None))
        .order_by(Model.id)
    )
    return [WebhookCall(url, public_id, name) for url, public_id, name in rows]


def _post(call: WebhookCall, round_number: int) -> None:
    body = {
        "roundNumber": round_number,
        "modelId": call.model_id,
        "modelName": call.model_name,
        "triggerId": str(uuid.uuid4()),
    }
    try:
        response = httpx.post(call.url, json=body, timeout=TIMEOUT_SECONDS)
        response.raise_for_status()
    except httpx.HTTPError as error:
        log.warning("webhook of model %s (%s) failed: %s", call.model_name, call.url, error)


def notify_round_opened(calls: list[WebhookCall], round_number: int) -> list[threading.Thread]:
    """POST to each webhook on its own daemon thread; returns the threads (tests join them)."""
    threads = [
        threading.Thread(target=_post, args=(call, round_number), daemon=True, name="webhook")
        for call in calls
    ]
    for thread in threads:
        thread.start()
    return threads


__all__ = [
    "WebhookCall",
    "check_webhook_url",
    "notify_round_opened",
    "round_opened_calls",
    "set_submission_webhook",
]
