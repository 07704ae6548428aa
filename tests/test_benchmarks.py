"""The benchmark runner at smoke size, its timing harness and its reference implementations."""

import importlib.util
import sys
import time
from pathlib import Path

import numpy as np
import pytest

if importlib.util.find_spec("benchmarks") is None:  # the suite lives beside the package
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import lagrange_ad as la  # noqa: E402
from benchmarks import harness, models, peers  # noqa: E402
from benchmarks.__main__ import main  # noqa: E402
from benchmarks.workloads import WORKLOADS  # noqa: E402

TITLES = {
    "chain": ("chain x -> sin", "build + forward", "backward"),
    "dag": ("random DAG", "build + forward", "backward"),
    "grad": ("la.grad end to end",),
    "sweeps": ("Gauss-Seidel and Jacobi sweeps",),
    "cheap-gradient": ("Cheap-gradient ratio",),
    "scaling": ("Scaling of the reverse sweep",),
    "mlp": ("MLP gradient",),
    "cnn": ("CNN gradient",),
    "cyclic": ("Equilibrium layer",),
    "memory": ("Peak memory",),
    "imported": ("Importing a model", "Gradient of an imported model: Transformer",
                 "Gradient of an imported model: CNN"),
}


def hide_peers(monkeypatch):
    """Make every peer (and its submodules) fail to import, as if it were not installed."""
    for name in list(sys.modules):
        if name.split(".")[0] in peers.PEERS:
            monkeypatch.setitem(sys.modules, name, None)
    for name in peers.PEERS + ("micrograd.engine", "autograd.numpy", "autograd.scipy.special"):
        monkeypatch.setitem(sys.modules, name, None)


def table_rows(report: str) -> list[list[str]]:
    rows = []
    for line in report.splitlines():
        if line.startswith("| ") and not line.startswith("|---"):
            rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


@pytest.fixture(scope="module")
def smoke_report(tmp_path_factory):
    monkeypatch = pytest.MonkeyPatch()
    hide_peers(monkeypatch)
    try:
        output = tmp_path_factory.mktemp("bench") / "report.md"
        report = main(["--size", "smoke", "--output", str(output)])
    finally:
        monkeypatch.undo()
    return report, output.read_text()


def test_smoke_report_has_every_workload(smoke_report):
    report, written = smoke_report
    assert written.strip() == report.strip()
    assert set(TITLES) == set(WORKLOADS)
    for name, fragments in TITLES.items():
        for fragment in fragments:
            assert fragment in report, (name, fragment)
    assert "| CPU |" in report and "| numpy |" in report


def test_missing_peers_are_reported_as_missing(smoke_report):
    report, _ = smoke_report
    peer_rows = [row for row in table_rows(report)
                 if len(row) == 7 and row[0].split(" ")[0] in peers.PEERS]
    assert len(peer_rows) >= 20
    for row in peer_rows:
        assert row[3] == row[4] == "missing", row
        assert row[5] == "", row


def test_lagrange_rows_are_timed_and_reference_is_one(smoke_report):
    report, _ = smoke_report
    rows = [row for row in table_rows(report) if len(row) == 7 and row[0].startswith("lagrange_ad")]
    timed = [row for row in rows if row[2]]
    assert len(timed) >= 20
    for row in timed:
        value, unit = row[3].split()
        assert float(value) > 0 and unit in ("ns", "us", "ms"), row
    references = [row for row in timed if row[5] == "1x"]
    assert len(references) >= 8
    # the gradients of the tensor workloads were checked inside the run, so no row failed
    assert not [row for row in rows if row[3].startswith("fails")]


def test_features_not_yet_there_are_reported_as_not_available(monkeypatch):
    hide_peers(monkeypatch)
    monkeypatch.delattr(la, "fixed_point", raising=False)
    for method in ("gauss-seidel", "jacobi"):
        monkeypatch.delitem(la.SCHEDULES, method, raising=False)
    report = main(["--size", "smoke", "--only", "sweeps,cyclic", "--repeat", "1"])
    rows = {row[0]: row for row in table_rows(report) if len(row) == 7}
    for inner in ("gmres", "fixed-point"):
        label = f"lagrange_ad implicit (la.fixed_point + la.grad, inner {inner})"
        assert rows[label][3] == "not available"
    assert rows["lagrange_ad jacobi, 3 sweeps"][3] == "not available"
    assert rows["lagrange_ad gauss-seidel, reverse order"][3] == "not available"
    unrolled = next(row for name, row in rows.items() if name.startswith("lagrange_ad unrolled"))
    assert float(unrolled[3].split()[0]) > 0


def test_measure_warms_up_then_repeats():
    calls = []

    def slow():  # longer than a batch: one call per sample
        calls.append(1)
        time.sleep(harness.BATCH)

    timing = harness.measure(slow, units=10, repeat=4)
    assert len(calls) == 5 and timing.runs == 4
    assert harness.BATCH / 10 <= timing.best <= timing.median


def test_measure_times_short_calls_in_batches():
    calls = []
    timing = harness.measure(lambda: calls.append(1), units=1, repeat=3)
    batch = (len(calls) - 1) // 3
    assert timing.runs == 3 and batch > 1 and len(calls) == 1 + 3 * batch
    assert 0 < timing.best <= timing.median < harness.BATCH


def test_timing_table_ratios_and_missing_rows():
    rows = [harness.Row("lagrange_ad x", 10, harness.Timing((1e-6, 2e-6, 3e-6), 10)),
            harness.Row("peer", 10, harness.Timing((4e-6, 4e-6), 10)),
            harness.failed("other", 10, harness.PeerMissing("other"))]
    table = harness.timing_table("t", rows)
    assert table.rows[0][3] == "200 ns" and table.rows[0][5] == "1x"
    assert table.rows[1][5] == "2x"
    assert table.rows[2][3] == "missing" and table.rows[2][5] == ""


def test_deep_thread_runs_deep_recursion():
    def depth(k):
        return 0 if k == 0 else 1 + depth(k - 1)

    assert harness.in_deep_thread(lambda: depth(50_000), 50_000) == 50_000


def test_plain_tape_matches_lagrange_ad():
    graph = la.examples.random_dag(500, seed=3).graph
    expected = np.array([float(g) for g in la.solve(la.Program(graph)).gradient])
    plan = peers.scalar_plan(graph)
    tape = peers.tape_function(plan)(*graph.point)
    np.testing.assert_allclose(peers.tape_backward(tape), expected, rtol=1e-12, atol=1e-14)
    assert tape.values[-1] == pytest.approx(float(la.Program(graph).output_value), rel=1e-12)


def test_numpy_backprop_matches_lagrange_ad():
    params, X, Y = models.mlp_problem(width=12, batch=5, seed=1)
    loss, grads = models.numpy_mlp_grad(X, Y, *params)
    mine = la.grad(models.lagrange_mlp(X, Y))(*params)
    for ours, theirs in zip(mine, grads):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-13)
    assert loss == pytest.approx(float(la.Program(la.trace(models.lagrange_mlp(X, Y), *params))
                                       .output_value), rel=1e-12)


def test_implicit_gradient_matches_finite_differences():
    W, U, x, b = models.equilibrium_problem(20, seed=2)
    exact = models.implicit_gradient(W, U, x, b)
    eps = 1e-6
    for k in (0, 7):
        step = np.zeros_like(b)
        step[k] = eps
        up = models.equilibrium_state(W, U @ x + b + step).sum()
        down = models.equilibrium_state(W, U @ x + b - step).sum()
        assert exact[k] == pytest.approx((up - down) / (2 * eps), rel=1e-6)
