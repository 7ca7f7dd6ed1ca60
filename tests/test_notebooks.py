"""The notebooks run top to bottom against the real data and the session's lake."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from conftest import LAST_INVOICE_DAY, REPO
from marketcast import cli

NOTEBOOKS = REPO / "notebooks"


def run_notebook(name: str, env: dict[str, str], monkeypatch) -> list[str]:
    """Execute ``name`` in the notebooks folder; returns the text of every code cell's output."""
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": NOTEBOOKS}}
    ).execute()
    texts = []
    for cell in notebook.cells:
        if cell.cell_type == "code":
            texts.append(
                "".join(
                    output.get("text", "") or output.get("data", {}).get("text/plain", "")
                    for output in cell.outputs
                )
            )
    return texts


@pytest.mark.parametrize("path", sorted(NOTEBOOKS.glob("*.ipynb")), ids=lambda path: path.name)
def test_notebooks_are_committed_without_outputs(path: Path):
    notebook = json.loads(path.read_text())
    code = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]
    assert code
    assert all(cell["outputs"] == [] and cell["execution_count"] is None for cell in code)


def test_exploration_notebook_runs_on_the_real_invoices(real_data, monkeypatch):
    texts = run_notebook(
        "explore_invoices.ipynb", {"MARKETCAST_AAVAIL": str(real_data)}, monkeypatch
    )
    whole = "\n".join(texts)
    assert "5 files:" in texts[0]
    assert "unknown to the mapping: none" in whole
    assert "price goes by: ['price', 'total_price']" in whole
    assert "252,359 records, 252,359 loadable, 0 rejected" in whole
    assert "exact duplicate lines: 2,919" in whole
    assert "32 countries" in whole
    assert "A563186" in whole  # one of the two -11,062.06 adjustments


def test_review_notebook_reads_the_lake_without_spark(real_lake, past_answer, monkeypatch):
    texts = run_notebook("review_forecasts.ipynb", {"MARKETCAST_LAKE": real_lake}, monkeypatch)
    whole = "\n".join(texts)
    assert texts[0].splitlines() == [
        f"as-of dates in the lake: {past_answer.as_of}, {LAST_INVOICE_DAY}",
        f"newest: {LAST_INVOICE_DAY}",
    ]
    assert "too_short" in whole and "Greece" in whole
    newest = cli.answer(real_lake, "ALL")
    low, high = newest.bands[80]
    assert f"next 30 days: {newest.expected:,.0f} expected, 80% {low:,.0f} .. {high:,.0f}" in whole
    # The realised error of the past run, as the query command computes it.
    error = (past_answer.expected - past_answer.actual) / abs(past_answer.actual)
    assert f"{error:.3f}".rstrip("0") in whole
