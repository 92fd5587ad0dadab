"""The command line: every command has --help, and --version answers."""

import subprocess
import sys

import pytest

from builder import __version__
from builder.cli import main


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"gazette {__version__}"


@pytest.mark.parametrize("command", ["build", "serve", "normalize", "check"])
def test_every_command_has_help(capsys, command):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    assert "usage: gazette" in capsys.readouterr().out


def test_python_dash_m_runs_the_cli():
    result = subprocess.run([sys.executable, "-m", "builder", "--version"],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0
    assert result.stdout.startswith("gazette ")


def test_bad_config_is_a_message_not_a_traceback(tmp_path, capsys):
    (tmp_path / "gazette.toml").write_text("per_page = 'many'\n")
    assert main(["--root", str(tmp_path), "check"]) == 2
    err = capsys.readouterr().err
    assert "per_page" in err and "Traceback" not in err
