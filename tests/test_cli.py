"""The ``gbmtl`` command: version, help, and one-line errors."""

from __future__ import annotations

import pytest

from gbmtl import __version__
from gbmtl.cli import main


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"gbmtl {__version__}"


def test_demo_help_explains_every_option(capsys):
    with pytest.raises(SystemExit):
        main(["demo", "--help"])
    text = capsys.readouterr().out
    assert "rows of the synthetic finance table" in text and "seed of the table" in text


def test_a_missing_config_is_one_line_and_a_nonzero_exit(capsys, tmp_path):
    assert main(["tune", str(tmp_path / "missing.toml"), "--n-trials", "1"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("gbmtl: error:") and "missing.toml" in err and "\n" not in err


def test_traceback_flag_shows_the_stack(tmp_path):
    with pytest.raises(Exception, match="missing.toml"):
        main(["--traceback", "tune", str(tmp_path / "missing.toml"), "--n-trials", "1"])
