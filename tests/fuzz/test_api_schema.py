"""Schemathesis against the OpenAPI schema Pagoflex serves at /v1/schema/: generated requests,
valid and invalid, to every operation, in-process through the WSGI app with a real merchant key
and the sandbox bank. No 5xx, and every answer (status, content type, body) is one the schema
declares. Bounded: a fixed number of examples per operation, derandomized, so CI is repeatable.
"""

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, settings
from schemathesis import checks

EXAMPLES_PER_OPERATION = 25

CHECKS = [checks.not_a_server_error, checks.status_code_conformance, checks.content_type_conformance,
          checks.response_schema_conformance, checks.response_headers_conformance]


# Loaded at collection: serving the schema needs no database (the view has no authentication).
schema = schemathesis.openapi.from_wsgi("/v1/schema/", get_wsgi_application())


@pytest.fixture
def auth_headers(merchant_and_key, sandbox_account, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"api_key": None}}
    return {"Authorization": f"Bearer {merchant_and_key[1]}"}


@schema.parametrize()
@settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
@pytest.mark.django_db(transaction=True)
def test_generated_requests_get_no_5xx_and_answers_match_the_schema(case, auth_headers):
    case.call_and_validate(headers=auth_headers, checks=CHECKS)
