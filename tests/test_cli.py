"""The command line: every command has --help, and --version answers."""

import gc
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


def test_a_build_run_in_process_leaves_the_garbage_collector_on(tmp_path):
    """Only the `gazette` process, which ends right after, leaves it off."""
    (tmp_path / "gazette.toml").write_text("search = false\n", encoding="utf-8")
    story = tmp_path / "content" / "world" / "001_0000000000000001.md"
    story.parent.mkdir(parents=True)
    story.write_text("---\ntitle: One\ndate: 2021-01-14\n---\nA story.\n", encoding="utf-8")
    assert gc.isenabled()
    assert main(["--root", str(tmp_path), "build", "--jobs", "1"]) == 0
    assert gc.isenabled()
