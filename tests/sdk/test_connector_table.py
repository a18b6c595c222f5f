"""The capability table in docs/connectors.md is generated from the adapters, never typed."""

import pytest
from django.core.management import CommandError, call_command

from connectors.base import Flow
from connectors.management.commands.connector_table import END, START, default_path, render_table, with_table


def test_connector_table_in_the_guide_is_up_to_date():
    # Fails when a connector's declarations changed and nobody re-ran the command.
    call_command("connector_table", check=True)


def test_table_rows_follow_the_adapters_declarations():
    from connectors.banco_x.adapter import BancoXConnector
    from connectors.sandbox.adapter import SandboxConnector

    table = render_table([BancoXConnector, SandboxConnector])
    rows = {line.split(" | ")[0].strip("| `"): line for line in table.splitlines() if line.startswith("| `")}
    banco_x_features = [cell.strip() for cell in table.splitlines()[4].strip("|").split("|")]
    assert banco_x_features[0] == "`banco_x`" and banco_x_features[5] == "—"  # no manual capture
    assert "ARS, BRL, CLP, COP, EUR, GBP, MXN, PEN, USD" in banco_x_features
    assert banco_x_features[-1] == "yes"  # runs the conformance suite
    flow_rows = [line for line in table.splitlines()
                 if line.startswith("| `") and line.count("|") == len(Flow) + 2 and "units" not in line]
    banco_x_flows, sandbox_flows = ([cell.strip() for cell in row.strip("|").split("|")] for row in flow_rows)
    # Flows in Flow order: session_token, authorize, complete_authorize, capture, void, ...
    assert banco_x_flows[1:6] == ["—", "yes", "—", "—", "—"]
    assert sandbox_flows[1:6] == ["—", "yes", "—", "yes", "yes"]
    assert set(rows) == {"banco_x", "sandbox"}
    # The recovery table: Banco X finds payments and refunds by our reference, runs every case of
    # authorize and refund, and has no capture or void to run.
    recovery_rows = [line for line in table.splitlines() if line.startswith("| `banco_x`") and "of 6" in line]
    banco_x_recovery = [cell.strip() for cell in recovery_rows[0].strip("|").split("|")]
    assert banco_x_recovery[1:5] == ["yes", "yes", "yes", "300 s"]
    assert banco_x_recovery[6:10] == ["6 of 6", "— (no capture flow)", "— (no void flow)", "6 of 6"]


def test_table_says_which_connectors_are_held_to_a_published_api():
    from connectors.authipay.adapter import AuthipayConnector
    from connectors.banco_x.adapter import BancoXConnector

    table = render_table([AuthipayConnector, BancoXConnector])
    header = [cell.strip() for cell in table.splitlines()[2].strip("|").split("|")]
    column = header.index("published API contract")
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in table.splitlines()[4:6]]
    assert [(row[0], row[column]) for row in rows] == [("`authipay`", "yes"), ("`banco_x`", "—")]


def test_connector_table_rewrites_only_the_block_between_the_markers(tmp_path):
    guide = tmp_path / "guide.md"
    guide.write_text(f"# Before\n\n{START}\nstale\n{END}\n\nAfter\n")
    call_command("connector_table", path=guide)
    text = guide.read_text()
    assert text.startswith("# Before\n\n") and text.endswith("\n\nAfter\n")
    assert "stale" not in text and "| `sandbox` |" in text
    call_command("connector_table", path=guide, check=True)


def test_connector_table_check_fails_on_a_stale_table(tmp_path):
    guide = tmp_path / "guide.md"
    guide.write_text(f"{START}\n| `gone` |\n{END}\n")
    with pytest.raises(CommandError, match="out of date"):
        call_command("connector_table", path=guide, check=True)
    assert "| `gone` |" in guide.read_text()


def test_connector_table_refuses_a_guide_without_markers(tmp_path):
    guide = tmp_path / "guide.md"
    guide.write_text("no table here\n")
    with pytest.raises(CommandError, match="no table markers"):
        call_command("connector_table", path=guide)


def test_the_guide_keeps_its_markers():
    text = default_path().read_text()
    assert with_table(text, render_table()) == text
