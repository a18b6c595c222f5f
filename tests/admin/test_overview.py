"""The overview page: figures for a period, drawn as server-side SVG, and what is stuck now."""

from datetime import timedelta

from django.utils import timezone

from payments.admin.overview import overview
from payments.models import PaymentOperation
from tests.helpers import DECLINED_CARD, PENDING_CARD
from webhooks.models import WebhookEvent, WebhookOutcome

OVERVIEW = "/admin/payments/paymentoperation/overview/"


def test_overview_counts_success_rate_declines_and_stuck_items(take_payment, sandbox_account):
    take_payment(amount=1000)
    take_payment(amount=2000)
    take_payment(number=DECLINED_CARD)
    stuck = take_payment(number=PENDING_CARD)
    PaymentOperation.objects.filter(pk=stuck.pk).update(created_at=timezone.now() - timedelta(days=8))
    WebhookEvent.objects.create(
        connector="sandbox", connector_account=sandbox_account, body=b"x", outcome=WebhookOutcome.MALFORMED
    )
    today = timezone.localdate()

    figures = overview(start=today - timedelta(days=6), end=today)

    assert figures["totals"] == {"count": 3, "succeeded": 2}  # the stuck one was created before the period
    assert [row["error_code"] for row in figures["declines"]["rows"]] == ["insufficient_funds"]
    assert "67% (2/3)" in figures["success_chart"]
    assert figures["stuck"]["stuck_payments"] == [stuck]
    assert figures["webhook_failures"]["total"] == 1
    assert [chart["currency"] for chart in figures["volume_charts"]] == ["EUR"]
    assert figures["volume_charts"][0]["total"] == "30.00 EUR"


def test_overview_page_draws_svg_charts_without_any_external_script(admin_client, take_payment):
    take_payment(amount=1000)

    page = admin_client.get(OVERVIEW).content.decode()

    assert page.count('<svg class="pagoflex-chart"') >= 4
    assert '<rect class="bar"' in page
    assert "Payments per day" in page and "Success rate per connector" in page and "Top decline reasons" in page
    assert "Pending and stuck now" in page and "Webhook failures" in page
    assert "http://" not in page.split("<main")[1].split("</main>")[0].replace('xmlns="http://www.w3.org/2000/svg"', "")


def test_a_period_that_ends_before_it_starts_is_refused_and_the_default_shown(admin_client, db):
    response = admin_client.get(OVERVIEW, {"start": "2026-03-10", "end": "2026-03-01"})

    assert "the period must start before it ends" in response.content.decode()
    assert response.context["days"] == 14


def test_chart_labels_are_escaped(take_payment, sandbox_account):
    from payments.admin.charts import bar_list_chart

    svg = bar_list_chart([("<script>alert(1)</script>", 1, "1")], title="t")

    assert "<script>" not in svg and "&lt;script&gt;" in svg


def test_admin_home_links_to_the_overview(admin_client):
    page = admin_client.get("/admin/").content.decode()

    assert f'href="{OVERVIEW}"' in page
