"""The back-office overview: how payments went over a period, and what needs a human now.

The apps above payments add their own sections through ``add_overview_section`` (the webhooks
app: inbound webhook failures and deliveries given up, see ``webhooks/backoffice.py``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta

from django import forms
from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from connectors import amounts
from payments.admin.charts import bar_list_chart, column_chart
from payments.models import Merchant, PaymentAttempt, PaymentOperation, Refund
from payments.state_machine import UNSETTLED_ATTEMPT_STATUSES
from payments.statuses import AttemptStatus, PaymentStatus, RefundStatus

MAX_PERIOD_DAYS = 92
# Unsettled for longer than this, a payment or refund is "stuck": sync should have settled it.
STUCK_AFTER = timedelta(minutes=30)
WAITING_PAYMENT_STATUSES = [PaymentStatus.PROCESSING, PaymentStatus.REQUIRES_CUSTOMER_ACTION]
LIST_LIMIT = 20

# Sections other apps add, by template: figures(since=, until=, merchant=) -> dict, whose keys
# join the page's context; the overview page includes each template after its own sections.
_sections: dict[str, Callable[..., dict]] = {}


def add_overview_section(template: str, figures: Callable[..., dict]) -> None:
    """Add a section to the overview: ``figures(since=, until=, merchant=)`` gives the context
    (``since``/``until`` bound the period, ``merchant`` is None for all), ``template`` draws it."""
    _sections[template] = figures


class PeriodForm(forms.Form):
    start = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    merchant = forms.ModelChoiceField(queryset=Merchant.objects.all(), required=False, empty_label="all merchants")

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end:
            if start > end:
                raise forms.ValidationError("the period must start before it ends")
            if (end - start).days >= MAX_PERIOD_DAYS:
                raise forms.ValidationError(f"the period can be at most {MAX_PERIOD_DAYS} days")
        return cleaned


def default_period(today: date | None = None) -> dict:
    today = today or timezone.localdate()
    return {"start": today - timedelta(days=13), "end": today}


def _bounds(start: date, end: date) -> tuple[datetime, datetime]:
    tz = timezone.get_current_timezone()
    return (
        datetime.combine(start, time.min, tzinfo=tz),
        datetime.combine(end + timedelta(days=1), time.min, tzinfo=tz),
    )


def overview(*, start: date, end: date, merchant: Merchant | None = None) -> dict:
    """Figures and charts for [start, end] (whole days), optionally for one merchant."""
    since, until = _bounds(start, end)
    payments = PaymentOperation.objects.filter(created_at__gte=since, created_at__lt=until)
    attempts = PaymentAttempt.objects.filter(created_at__gte=since, created_at__lt=until)
    if merchant is not None:
        payments = payments.filter(merchant=merchant)
        attempts = attempts.filter(payment__merchant=merchant)
    days = [start + timedelta(days=n) for n in range((end - start).days + 1)]
    figures = {
        "days": len(days),
        "totals": payments.aggregate(
            count=Count("id"), succeeded=Count("id", filter=Q(status=PaymentStatus.SUCCEEDED))
        ),
        "count_chart": _count_chart(payments, days),
        "volume_charts": _volume_charts(payments, days),
        "success_chart": _success_chart(attempts),
        "declines": _declines(attempts),
        "stuck": _stuck(merchant),
        "section_templates": list(_sections),
    }
    for section in _sections.values():
        figures.update(section(since=since, until=until, merchant=merchant))
    return figures


def _per_day(queryset, **aggregate):
    return queryset.annotate(day=TruncDate("created_at")).values("day").annotate(**aggregate).order_by("day")


def _count_chart(payments, days):
    counts = {row["day"]: row["count"] for row in _per_day(payments, count=Count("id"))}
    return column_chart([(day.strftime("%d %b"), counts.get(day, 0)) for day in days], title="Payments created per day")


def _volume_charts(payments, days):
    """Captured volume per day, one chart per currency (amounts in different currencies never add up)."""
    rows = (
        payments.filter(amount_captured__gt=0)
        .annotate(day=TruncDate("created_at"))
        .values("currency", "day")
        .annotate(volume=Sum("amount_captured"))
        .order_by("currency", "day")
    )
    by_currency: dict[str, dict] = {}
    for row in rows:
        by_currency.setdefault(row["currency"], {})[row["day"]] = row["volume"]
    charts = []
    for currency, volumes in sorted(by_currency.items(), key=lambda item: -sum(item[1].values()))[:4]:

        def money(minor, currency=currency):
            return f"{amounts.format_major(int(minor), currency)} {currency}"

        charts.append(
            {
                "currency": currency,
                "total": money(sum(volumes.values())),
                "chart": column_chart(
                    [(day.strftime("%d %b"), volumes.get(day, 0)) for day in days],
                    title=f"Captured volume per day ({currency})",
                    value_text=money,
                ),
            }
        )
    return charts


def _success_chart(attempts):
    """Share of settled attempts that were not declined, per connector."""
    rows = (
        attempts.exclude(status__in=UNSETTLED_ATTEMPT_STATUSES)
        .values("connector")
        .annotate(total=Count("id"), failed=Count("id", filter=Q(status=AttemptStatus.FAILURE)))
        .order_by("connector")
    )
    bars = []
    for row in rows:
        succeeded = row["total"] - row["failed"]
        rate = 100 * succeeded / row["total"]
        bars.append((row["connector"], rate, f"{rate:.0f}% ({succeeded}/{row['total']})"))
    return bar_list_chart(bars, title="Success rate per connector", maximum=100)


def _declines(attempts):
    rows = list(
        attempts.filter(status=AttemptStatus.FAILURE)
        .values("error_code")
        .annotate(count=Count("id"))
        .order_by("-count", "error_code")[:10]
    )
    return {
        "rows": rows,
        "chart": bar_list_chart(
            [(row["error_code"] or "(no code)", row["count"], str(row["count"])) for row in rows],
            title="Top decline reasons",
        ),
    }


def _stuck(merchant):
    """What is waiting right now, whatever the period: unsettled payments and refunds."""
    cutoff = timezone.now() - STUCK_AFTER
    payments = PaymentOperation.objects.filter(status__in=WAITING_PAYMENT_STATUSES).select_related("merchant")
    refunds = Refund.objects.filter(status=RefundStatus.PENDING).select_related("payment")
    if merchant is not None:
        payments = payments.filter(merchant=merchant)
        refunds = refunds.filter(payment__merchant=merchant)
    return {
        "pending_payments": payments.count(),
        "pending_refunds": refunds.count(),
        "stuck_payments": list(payments.filter(created_at__lt=cutoff).order_by("created_at")[:LIST_LIMIT]),
        "stuck_refunds": list(refunds.filter(created_at__lt=cutoff).order_by("created_at")[:LIST_LIMIT]),
        "stuck_after_minutes": int(STUCK_AFTER.total_seconds() // 60),
    }
