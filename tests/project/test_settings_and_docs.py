"""The project as an operator meets it: settings that refuse to run unsafely, the API schema and docs."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def _check(env_overrides: dict) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "PAGOFLEX_KEYRING", "DEBUG")}
    env.update(env_overrides)
    return subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60)


@pytest.mark.parametrize("missing, present", [
    ("SECRET_KEY", {"PAGOFLEX_KEYRING": "k1:" + "QUFB" * 10 + "QUE="}),
    ("PAGOFLEX_KEYRING", {"SECRET_KEY": "a-real-production-secret-key-0123456789"}),
])
def test_production_refuses_to_start_without_its_secrets_and_names_the_variable(missing, present):
    result = _check({"DEBUG": "False", **present})
    assert result.returncode != 0
    assert f"{missing} must be set when DEBUG=False" in result.stderr


def test_a_malformed_keyring_is_refused_at_start_up():
    result = _check({"PAGOFLEX_KEYRING": "k1:tooshort"})
    assert result.returncode != 0 and "PAGOFLEX_KEYRING is invalid" in result.stderr


def test_development_starts_with_no_environment_at_all():
    result = _check({})
    assert result.returncode == 0, result.stderr


def test_openapi_schema_describes_every_endpoint_with_bodies_and_the_error_shape(client, db):
    response = client.get("/v1/schema/")
    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    paths = schema["paths"]
    for path in ("/v1/payments", "/v1/payments/{payment_id}", "/v1/payments/{payment_id}/confirm",
                 "/v1/payments/{payment_id}/capture", "/v1/payments/{payment_id}/cancel", "/v1/refunds",
                 "/v1/refunds/{refund_id}", "/v1/payment_methods"):
        assert path in paths, path
    create = paths["/v1/payments"]["post"]
    assert "requestBody" in create and "201" in create["responses"]
    assert create["responses"]["400"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorOutput")
    assert {"amount", "currency"} <= set(schema["components"]["schemas"]["PaymentCreateInputRequest"]["required"])
    assert schema["components"]["securitySchemes"]["ApiKey"]["scheme"] == "bearer"


def test_docs_page_is_served_without_any_cdn(client, db):
    response = client.get("/v1/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html.lower()
    assert "cdn" not in html.lower() and "https://" not in html
