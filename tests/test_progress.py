"""Progress lines: on for a terminal, off for pipes, counting the whole time."""

import io
import re

import pytest

import lagrange_ad as la
from lagrange_ad.errors import LagrangeADError
from lagrange_ad.progress import Progress, progress_for


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_a_terminal_gets_a_live_line_and_one_line_per_step():
    stream = Terminal()
    progress = Progress("compare", 2, stream=stream)
    assert progress.enabled
    progress.start("reverse")
    assert stream.getvalue() == "\rcompare [1/2] reverse ...\x1b[K"
    progress.done("reverse", "solved")
    progress.start("gmres")
    progress.done("gmres", "over budget")
    lines = stream.getvalue().split("\n")
    assert re.fullmatch(r"\rcompare \[1/2\] reverse \.\.\.\x1b\[K\rcompare \[1/2\] reverse: "
                        r"solved \(\d\.\d\d s; \d\.\d s in all\)\x1b\[K", lines[0])
    assert "compare [2/2] gmres: over budget" in lines[1] and lines[2] == ""


def test_a_pipe_gets_nothing_unless_asked():
    stream = io.StringIO()
    quiet = Progress("verify", 1, stream=stream)
    quiet.start("kkt residual")
    quiet.done("kkt residual", "passed")
    assert not quiet.enabled and stream.getvalue() == ""
    loud = Progress("verify", 1, enabled=True, stream=stream)
    loud.start("kkt residual")
    loud.done("kkt residual", "passed")
    assert stream.getvalue().startswith("verify [1/1] kkt residual: passed (")
    assert "\r" not in stream.getvalue()


def test_a_callback_is_called_after_each_step():
    calls = []
    progress = progress_for("compare", 2, lambda *a: calls.append(a))
    for label in ("a", "b"):
        progress.start(label)
        progress.done(label)
    assert calls == [(1, 2, "a"), (2, 2, "b")]
    with pytest.raises(LagrangeADError, match="progress must be"):
        progress_for("compare", 1, "yes")


def test_verify_reports_each_check(capsys):
    la.verify(la.examples.lecture().program(), methods=("spsolve", "no-such-method"),
              progress=True)
    lines = capsys.readouterr().err.splitlines()
    names = [re.match(r"verify \[(\d)/5\] ([^:]+):", line).groups() for line in lines]
    assert names == [("1", "kkt residual"), ("2", "no-such-method"), ("3", "spsolve"),
                     ("4", "finite differences"), ("5", "taylor remainder")]
