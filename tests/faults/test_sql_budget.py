"""SQL statements per operation stay within budget: counted in-process, so the same request
always gives the same number (see bench/sql_counts.py and docs/performance.md)."""

import pytest

from bench import sql_counts
from bench.sql_counts import BUDGETS

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("operation", ["create+confirm", "capture", "refund", "retrieve"])
def test_an_api_operation_runs_no_more_sql_statements_than_its_budget(api, sandbox_account, operation):
    count, sql = {"create+confirm": sql_counts.create_confirm, "capture": sql_counts.capture,
                  "refund": sql_counts.refund, "retrieve": sql_counts.retrieve}[operation](api)
    assert count <= BUDGETS[operation], "\n".join(sql)


def test_a_bank_webhook_runs_no_more_sql_statements_than_its_budget(api, sandbox_account, client):
    count, sql = sql_counts.webhook(api, sandbox_account, client)
    assert count <= BUDGETS["webhook"], "\n".join(sql)

