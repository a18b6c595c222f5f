"""Every registered connector runs the conformance suite, and the suite has the issue's scenarios."""

import importlib
import inspect

from connectors.registry import all_connectors
from connectors.testing.conformance import ConnectorConformance


def _suite_classes(connector_class):
    package = connector_class.__module__.rsplit(".", 1)[0]
    module = importlib.import_module(f"{package}.tests.test_conformance")
    return [
        value
        for value in vars(module).values()
        if inspect.isclass(value) and issubclass(value, ConnectorConformance) and value.__name__.startswith("Test")
    ]


def test_every_registered_connector_runs_the_conformance_suite():
    for connector_class in all_connectors():
        suites = _suite_classes(connector_class)
        assert [suite.connector_class for suite in suites] == [connector_class], connector_class.key


def test_the_suite_has_at_least_twenty_scenarios_named_after_behaviour():
    scenarios = [name for name in dir(ConnectorConformance) if name.startswith("test_")]
    assert len(scenarios) >= 20
    for expected in (
        "refund_above_captured_amount_is_refused_before_the_connector_is_called",
        "read_timeout_after_send_leaves_the_attempt_pending",
        "webhook_with_a_bad_signature_is_rejected_and_a_good_one_applied",
        "three_decimal_currency_amount_travels_exactly",
    ):
        assert f"test_{expected}" in scenarios
