"""Alerts: saved searches (订阅) that push new relevant documents to their owners, exactly once.

The package, by role:

* :mod:`~search.alerts.subscriptions` — the one validation of a subscription (CLI, API and web form call
  :func:`validate_subscription`), digest times, storage;
* :mod:`~search.alerts.matching` — which subscriptions new documents match (the backend's ``percolate``), the
  watermark;
* :mod:`~search.alerts.needs` — problem-library needs as standing queries for new achievements;
* :mod:`~search.alerts.delivery` — runs, the delivery log, retries, digests, receivers served independently;
* :mod:`~search.alerts.channels` — the accepted notification URLs, the outbound guard, sending through Apprise;
* :mod:`~search.alerts.messages` and ``templates/`` — what a message says.

A subscription only sees documents fetched after it was created (its watermark): a new subscription never floods
its owner with history — :func:`preview` shows recent matches instead. Deliveries are keyed by (subscription,
near-duplicate cluster), so a reprint never alerts twice.
"""

from __future__ import annotations

from core.errors import AlertsError, SubscriptionError
from search.alerts.channels import CHANNELS, normalize_url, redact
from search.alerts.delivery import (
    CURSOR_ID,
    RunOptions,
    RunSummary,
    delivery_id,
    delivery_log,
    digest_slot,
    preview,
    retry_deliveries,
    run_alerts,
)
from search.alerts.matching import match_subscriptions, naive_match
from search.alerts.messages import Message, render
from search.alerts.needs import CONFIG_ID, alerts_config, need_match, need_terms
from search.alerts.subscriptions import (
    FILTER_KEYS,
    MODES,
    digest_text,
    load_subscriptions,
    parse_digest_at,
    save_subscription,
    stored_subscription,
    validate_subscription,
)
from search.matching import Matcher

__all__ = [
    "CHANNELS",
    "CONFIG_ID",
    "CURSOR_ID",
    "FILTER_KEYS",
    "MODES",
    "AlertsError",
    "Matcher",
    "Message",
    "RunOptions",
    "RunSummary",
    "SubscriptionError",
    "alerts_config",
    "delivery_id",
    "delivery_log",
    "digest_slot",
    "digest_text",
    "load_subscriptions",
    "match_subscriptions",
    "naive_match",
    "need_match",
    "need_terms",
    "normalize_url",
    "parse_digest_at",
    "preview",
    "redact",
    "render",
    "retry_deliveries",
    "run_alerts",
    "save_subscription",
    "stored_subscription",
    "validate_subscription",
]
