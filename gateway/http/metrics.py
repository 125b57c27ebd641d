"""``/metrics`` in the Prometheus text format, from the store's counts and the signing keys."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from adapters.store.metrics import MetricCounts

__all__ = ["LATENCY_BUCKETS", "render_metrics"]

#: Upper bounds (seconds) of the delivery latency histogram: a second to a day.
LATENCY_BUCKETS = (1.0, 5.0, 30.0, 60.0, 300.0, 1800.0, 3600.0, 21600.0, 86400.0)
WAITING = ("queued", "retry_wait", "sending")


class _Lines:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def metric(
        self, name: str, kind: str, help_text: str, samples: list[tuple[str, float]]
    ) -> None:
        self.lines.append(f"# HELP {name} {help_text}")
        self.lines.append(f"# TYPE {name} {kind}")
        self.lines.extend(f"{name}{labels} {value:g}" for labels, value in samples)


def _total(rows: tuple[dict[str, Any], ...], key: str) -> float:
    return float(sum(float(row[key] or 0) for row in rows))


def render_metrics(
    counts: MetricCounts,
    days_left: Mapping[str, int],
    now: dt.datetime,
    last_backup: float | None = None,
) -> str:
    """The Prometheus text; ``last_backup``: Unix time of the last verified backup (0: none
    yet; None: backups are not configured)."""
    out, rows = _Lines(), counts.deliveries
    out.metric(
        "edxml_messages_total",
        "counter",
        "Messages stored, by direction and type.",
        [(f'{{direction="{d}",type="{t}"}}', n) for d, t, n in counts.messages],
    )
    out.metric(
        "edxml_deliveries",
        "gauge",
        "Deliveries by state.",
        [(f'{{state="{r["state"]}"}}', float(r["n"])) for r in rows],
    )
    out.metric(
        "edxml_delivery_attempts_total",
        "counter",
        "Delivery attempts made.",
        [("", _total(rows, "attempts"))],
    )
    sent_total, sent_seconds = _total(rows, "sent"), _total(rows, "seconds")
    out.metric(
        "edxml_delivery_retries_total",
        "counter",
        "Attempts after the first (transient failures retried).",
        [("", _total(rows, "retries"))],
    )
    out.metric(
        "edxml_deliveries_sent_total",
        "counter",
        "Deliveries a destination took.",
        [("", sent_total)],
    )
    failed = tuple(r for r in rows if r["state"] == "failed")
    out.metric(
        "edxml_deliveries_failed",
        "gauge",
        "Deliveries that gave up (dead-lettered) and wait for an operator.",
        [("", _total(failed, "n"))],
    )
    out.metric(
        "edxml_delivery_latency_seconds",
        "histogram",
        "From acceptance to the destination taking it.",
        [],
    )
    out.lines.extend(
        f'edxml_delivery_latency_seconds_bucket{{le="{bound:g}"}} {_total(rows, f"le{i}"):g}'
        for i, bound in enumerate(LATENCY_BUCKETS)
    )
    out.lines.append(f'edxml_delivery_latency_seconds_bucket{{le="+Inf"}} {sent_total:g}')
    out.lines.append(f"edxml_delivery_latency_seconds_sum {sent_seconds:g}")
    out.lines.append(f"edxml_delivery_latency_seconds_count {sent_total:g}")
    out.metric(
        "edxml_signature_failures_total",
        "counter",
        "Inbound packages whose signature failed the policy.",
        [("", float(counts.signature_failures))],
    )
    waiting = tuple(r for r in rows if r["state"] in WAITING)
    out.metric(
        "edxml_queue_depth", "gauge", "Deliveries not yet delivered.", [("", _total(waiting, "n"))]
    )
    age = 0.0 if counts.oldest_waiting is None else (now - counts.oldest_waiting).total_seconds()
    out.metric(
        "edxml_oldest_waiting_seconds", "gauge", "Age of the oldest undelivered.", [("", age)]
    )
    out.metric(
        "edxml_certificate_days_to_expiry",
        "gauge",
        "Days left on each signing certificate.",
        [(f'{{agency="{agency}"}}', days) for agency, days in days_left.items()],
    )
    if last_backup is not None:
        out.metric(
            "edxml_backup_last_verified_timestamp_seconds",
            "gauge",
            "When the last backup whose sums were read back was taken (0: none yet).",
            [("", last_backup)],
        )
    return "\n".join(out.lines) + "\n"
