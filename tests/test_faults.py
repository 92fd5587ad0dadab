"""Issue 6, "Output integrity": a build that is killed, runs out of disk, or may not write
leaves the previous ``site/`` exactly as it was, says what went wrong in one line, exits
non-zero and leaves no staging directory behind.

Builds run as real ``gazette build`` subprocesses, so signals, exit codes and what the
user reads on the terminal are tested as they happen, not simulated.
"""

from __future__ import annotations

import errno
import hashlib
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parent.parent
EPOCH = "1700000000"
"""A fixed SOURCE_DATE_EPOCH, so two builds of one input are byte-identical."""
WORDS = ("minister parliament river harvest market energy treaty council storm election "
         "court budget vaccine pipeline border summit").split()
KILLS = 14
"""Signals sent at random moments of a build; each costs up to one build's time."""


def write_archive(content: Path, count: int, seed: int = 6) -> None:
    """``count`` Markdown stories with front matter, spread over topics, days and tags."""
    rng = random.Random(seed)
    for number in range(count):
        folder = content / ("politics", "economy", "world", "culture")[number % 4]
        folder.mkdir(parents=True, exist_ok=True)
        tags = ", ".join(f'"{rng.choice(WORDS).title()}"' for _ in range(3))
        body = "\n\n".join(" ".join(rng.choice(WORDS) for _ in range(50)) + "."
                           for _ in range(3))
        (folder / f"story-{number:04d}.md").write_text(
            f"---\ntitle: Story {number} on the {rng.choice(WORDS)}\n"
            f"date: 2020-{1 + number % 12:02d}-{1 + number % 28:02d}\ntags: [{tags}]\n---\n"
            f"{body}\n", encoding="utf-8")


def change_archive(root: Path) -> None:
    """Edit, add and delete stories and retitle the site, so the next build differs in
    every page (no file can be hard-linked) and has stale pages to drop."""
    (root / "gazette.toml").write_text('title = "Gazette, second edition"\n', encoding="utf-8")
    stories = sorted((root / "content").rglob("*.md"))
    stories[0].unlink()
    edited = stories[1].read_text(encoding="utf-8").replace("title: Story", "title: Edited story")
    stories[1].write_text(edited, encoding="utf-8")
    (root / "content" / "world" / "added.md").write_text(
        "---\ntitle: A story added later\ndate: 2021-03-04\ntags: [Added]\n---\nNew text.\n",
        encoding="utf-8")


def snapshot(site: Path) -> dict[str, str]:
    """Every file under ``site`` (dotfiles included) → sha256 of its bytes."""
    return {path.relative_to(site).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(site.rglob("*")) if path.is_file()}


def edition(state: dict[str, str], editions: Editions) -> str:
    """Which build ``state`` is: 'old', 'new', or a short account of how it is neither."""
    if state == editions.old:
        return "old"
    if state == editions.new:
        return "new"
    from_old = sum(state.get(k) == v for k, v in editions.old.items())
    from_new = sum(state.get(k) == v for k, v in editions.new.items())
    unlike_new = sorted(k for k in set(state) | set(editions.new)
                        if state.get(k) != editions.new.get(k))
    return (f"MIXED ({len(state)} files: {from_old} as in the old build, {from_new} as in "
            f"the new; differing from the new: {unlike_new[:5]})")


def leftovers(root: Path, output: str = "site") -> list[str]:
    """Staging or retired directories a build left beside the output directory (a lock
    file there is not one: it holds no pages)."""
    return sorted(p.name for p in root.iterdir()
                  if p.name.startswith(f".{output}.") and p.is_dir())


def gazette(root: Path, *args: str, **popen: object) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(PROJECT), "SOURCE_DATE_EPOCH": EPOCH}
    return subprocess.Popen([sys.executable, "-m", "builder", "--root", str(root), "build", *args],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            **popen)


def run_build(root: Path, *args: str) -> subprocess.CompletedProcess:
    process = gazette(root, *args)
    out, err = process.communicate(timeout=180)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def assert_one_line_error(stderr: str, *expected: str) -> None:
    """A clear error: no traceback, and one ``gazette: error:`` line that says it all."""
    assert "Traceback" not in stderr, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("gazette: error:")]
    assert len(errors) == 1, stderr
    for word in expected:
        assert word.lower() in errors[0].lower(), errors[0]


@dataclass(frozen=True)
class Editions:
    """A project whose ``site/`` holds the old build, its content already changed, and
    the snapshots of the old and the new build."""

    root: Path
    old_site: Path
    """A pristine copy of the old ``site/``, to restore between faults."""
    old: dict[str, str]
    new: dict[str, str]

    def restore(self) -> None:
        site = self.root / "site"
        shutil.rmtree(site, ignore_errors=True)
        shutil.copytree(self.old_site, site, symlinks=True)
        for name in leftovers(self.root):
            shutil.rmtree(self.root / name)


def make_editions(base: Path, count: int) -> Editions:
    root = base / "project"
    write_archive(root / "content", count)
    assert run_build(root).returncode == 0
    old_site = base / "old-site"
    shutil.copytree(root / "site", old_site, symlinks=True)
    twin = base / "twin"
    shutil.copytree(root, twin, ignore=shutil.ignore_patterns("site"))
    change_archive(root)
    change_archive(twin)
    built = run_build(twin)
    assert built.returncode == 0, built.stderr
    old, new = snapshot(old_site), snapshot(twin / "site")
    pages = [path for path in old if path.endswith(".html")]
    assert pages and all(old[path] != new.get(path) for path in pages), \
        "the second edition must differ in every page"
    return Editions(root=root, old_site=old_site, old=old, new=new)


@pytest.fixture(scope="module")
def big(tmp_path_factory) -> Editions:
    return make_editions(tmp_path_factory.mktemp("big"), 200)


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> Editions:
    return make_editions(tmp_path_factory.mktemp("small"), 12)


# -- killed builds -----------------------------------------------------------------------

@pytest.fixture
def interruptible():
    """Builds that Ctrl-C reaches, as from a terminal, even when the tests run as a
    background job of a shell without job control, which ignores SIGINT: an ignored signal
    stays ignored across ``exec``, a handled one does not."""
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, before)


def test_a_build_killed_at_any_moment_leaves_the_old_or_the_new_site_never_a_mix(
        big, interruptible):
    """SIGKILL (the OOM killer, ``kill -9``) and SIGINT (Ctrl-C, sent to the whole process
    group as a terminal does) at moments spread over a whole build."""
    started = time.monotonic()
    assert run_build(big.root).returncode == 0  # how long a full build takes here, now
    duration = time.monotonic() - started
    big.restore()
    rng = random.Random(2026)
    moments = sorted(rng.uniform(0.05, duration * 1.1) for _ in range(KILLS))
    outcomes = []
    for number, moment in enumerate(moments):
        sent = signal.SIGKILL if number % 2 else signal.SIGINT
        process = gazette(big.root, start_new_session=True)
        time.sleep(moment)
        try:
            os.killpg(process.pid, sent)
        except ProcessLookupError:
            pass  # it had already finished
        out, err = process.communicate(timeout=120)
        which = edition(snapshot(big.root / "site"), big)
        outcomes.append((sent.name, round(moment, 2), process.returncode, which))
        assert which in ("old", "new"), f"after {sent.name} at {moment:.2f} s site/ is {which}"
        if process.returncode == 0:
            assert which == "new"
        elif sent == signal.SIGINT:
            assert process.returncode == 130, (process.returncode, err)
            assert "Traceback" not in err, err
            assert err.strip().splitlines()[-1] == "gazette: interrupted", err
            assert leftovers(big.root) == [], "an interrupted build left its staging directory"
        else:
            assert process.returncode == -signal.SIGKILL
        big.restore()
    # Both signals must have landed mid-build at least once, or the test proved nothing.
    assert ("SIGINT", 130) in {(o[0], o[2]) for o in outcomes}, outcomes
    assert ("SIGKILL", -signal.SIGKILL) in {(o[0], o[2]) for o in outcomes}, outcomes


def test_the_next_build_sweeps_away_what_a_killed_build_left(big):
    """SIGKILL gives a build no chance to clean up; the next build must, or every killed
    build leaves a whole site's worth of files on the disk."""
    big.restore()
    process = gazette(big.root, start_new_session=True)
    deadline = time.monotonic() + 60
    while not leftovers(big.root) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    os.killpg(process.pid, signal.SIGKILL)
    process.communicate(timeout=60)
    if not leftovers(big.root):
        pytest.skip("the build finished or had not started staging when killed")
    assert edition(snapshot(big.root / "site"), big) in ("old", "new")
    rebuilt = run_build(big.root)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert edition(snapshot(big.root / "site"), big) == "new"
    assert leftovers(big.root) == [], "stale staging directories of a killed build remain"


# -- disk full ---------------------------------------------------------------------------

def test_disk_full_while_writing_is_one_clear_error_and_the_old_site_stays(small, monkeypatch,
                                                                            capsys):
    """ENOSPC from the middle of the writes (patched, so it runs everywhere)."""
    from builder import cli, output

    small.restore()
    real_open = open
    written = []

    def filling_open(path, mode="r", *args, **kwargs):
        if "w" in mode:
            written.append(path)
            if len(written) > 5:  # a few files fit, then the disk is full
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return real_open(path, mode, *args, **kwargs)

    monkeypatch.setattr(output, "open", filling_open, raising=False)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    code = cli.main(["--root", str(small.root), "build", "--jobs", "1"])
    stderr = capsys.readouterr().err
    assert len(written) > 5, "the patched write was never reached"
    assert code == 1
    assert_one_line_error(stderr, "no space left", "previous site is unchanged")
    assert edition(snapshot(small.root / "site"), small) == "old"
    assert leftovers(small.root) == []


def _in_private_mount_namespace(script: str, tmp: Path) -> subprocess.CompletedProcess:
    """Run a shell ``script`` in a new mount namespace (root only), so its mounts vanish
    with it and never touch the machine's."""
    if os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.skip("needs root and unshare for a private mount namespace")
    probe = subprocess.run(["unshare", "-m", "--propagation", "private", "true"],
                           capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"unshare -m is not allowed here: {probe.stderr.decode().strip()}")
    env = {**os.environ, "PYTHONPATH": str(PROJECT), "SOURCE_DATE_EPOCH": EPOCH}
    return subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-ec", script],
                          env=env, capture_output=True, text=True, timeout=120, cwd=tmp)


def _report(tmp: Path) -> dict[str, str]:
    lines = (tmp / "report").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines)


def test_a_really_full_disk_fails_cleanly(small, tmp_path):
    """A tmpfs just big enough for the old site: the new one cannot fit beside it."""
    small.restore()
    blocks = sum(-(-(p.stat().st_size or 1) // 4096) for p in small.old_site.rglob("*")
                 if p.is_file())
    size_kb = (blocks + len(small.old) // 2 + 8) * 4
    mount = tmp_path / "disk"
    mount.mkdir()
    script = f"""
        mount -t tmpfs -o size={size_kb}k tmpfs {mount}
        cp -a {small.old_site} {mount}/site
        set +e
        {sys.executable} -m builder --root {small.root} build --output {mount}/site 2> {tmp_path}/stderr
        echo "code=$?" > {tmp_path}/report
        set -e
        echo "left=$(find {mount} -mindepth 1 -maxdepth 1 -type d ! -name site | tr '\\n' ' ')" >> {tmp_path}/report
        cd {mount}/site && find . -type f -exec sha256sum {{}} + | sort -k2 > {tmp_path}/hashes
    """
    ran = _in_private_mount_namespace(script, tmp_path)
    assert ran.returncode == 0, ran.stderr
    report = _report(tmp_path)
    assert report["code"] == "1"
    assert_one_line_error((tmp_path / "stderr").read_text(), "no space left")
    assert report["left"].strip() == "", f"left beside site/: {report['left']}"
    hashes = {line.split("  ", 1)[1][2:]: line.split("  ", 1)[0]
              for line in (tmp_path / "hashes").read_text().splitlines()}
    assert edition(hashes, small) == "old"


# -- may not write -----------------------------------------------------------------------

def test_a_read_only_output_file_system_fails_cleanly(small, tmp_path):
    small.restore()
    script = f"""
        mount --bind {small.root} {small.root}
        mount -o remount,ro,bind {small.root}
        set +e
        {sys.executable} -m builder --root {small.root} build 2> {tmp_path}/stderr
        echo "code=$?" > {tmp_path}/report
    """
    ran = _in_private_mount_namespace(script, tmp_path)
    assert ran.returncode == 0, ran.stderr
    assert _report(tmp_path)["code"] == "1"
    assert_one_line_error((tmp_path / "stderr").read_text(), "read-only file system")
    assert edition(snapshot(small.root / "site"), small) == "old"
    assert leftovers(small.root) == []


def _as_unprivileged_user(command: list[str]) -> list[str]:
    """Root ignores file modes: run as ``nobody`` so they apply (as is, for other users)."""
    if os.geteuid() == 0:
        return ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *command]
    return command


@pytest.fixture
def unprivileged_copy(small):
    """Make copies of the small project (old site in place, content changed) under /tmp,
    readable by the unprivileged user, and chmod what the test names read-only."""
    if os.geteuid() == 0 and not shutil.which("setpriv"):
        pytest.skip("root without setpriv cannot drop privileges")
    probe = subprocess.run(_as_unprivileged_user([sys.executable, "-c", "import builder.pipeline"]),
                           env=_unprivileged_env(), capture_output=True, text=True, timeout=60,
                           cwd="/")
    if probe.returncode != 0:  # e.g. a checkout inside a 0700 folder (mktemp -d)
        pytest.skip(f"the unprivileged user cannot run Gazette from {PROJECT}: "
                    f"{(probe.stderr.strip().splitlines() or ['?'])[-1]}")
    base = Path(tempfile.mkdtemp(prefix="gazette-faults-", dir="/tmp"))

    def make(read_only: str) -> Path:
        root = base / read_only
        shutil.copytree(small.root, root, ignore=shutil.ignore_patterns(".site.*", "site"))
        shutil.copytree(small.old_site, root / "site")
        for path in (base, root, *root.rglob("*")):
            path.chmod(0o755 if path.is_dir() else 0o644)
            if os.geteuid() == 0 and path != base:
                os.chown(path, 65534, 65534)  # the build's user owns its project...
        locked = [root] if read_only == "project" else \
            [root / "site", *(p for p in (root / "site").rglob("*") if p.is_dir())]
        for path in locked:
            path.chmod(0o555)  # ...but may not write here
        return root

    try:
        yield make
    finally:
        for path in (base, *base.rglob("*")):
            if path.is_dir() and not path.is_symlink():
                path.chmod(0o755)
        shutil.rmtree(base)


def _build_unprivileged(root: Path) -> subprocess.CompletedProcess:
    command = _as_unprivileged_user([sys.executable, "-m", "builder", "--root", str(root),
                                     "build"])
    return subprocess.run(command, env=_unprivileged_env(), capture_output=True, text=True,
                          timeout=120, cwd="/")


def _unprivileged_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(PROJECT), "SOURCE_DATE_EPOCH": EPOCH,
            "HOME": "/nonexistent", "PYTHONDONTWRITEBYTECODE": "1"}


def test_permission_denied_fails_cleanly(unprivileged_copy, small):
    """The project folder may not be written: no staging directory can be made beside site/."""
    root = unprivileged_copy("project")
    ran = _build_unprivileged(root)
    assert ran.returncode == 1, ran.stderr
    assert_one_line_error(ran.stderr, "permission denied")
    assert edition(snapshot(root / "site"), small) == "old"
    assert leftovers(root) == []


def test_a_read_only_output_directory_is_replaced_or_kept_never_left_half_removed(
        unprivileged_copy, small):
    """``site/`` and its folders are read-only (a deploy tool's doing): the new site may
    be swapped in or the build may refuse, but the old tree must not be left lying beside
    it (it cannot be deleted without first making it writable)."""
    root = unprivileged_copy("site")
    ran = _build_unprivileged(root)
    assert "Traceback" not in ran.stderr, ran.stderr
    if ran.returncode == 0:
        assert edition(snapshot(root / "site"), small) == "new"
    else:
        assert_one_line_error(ran.stderr)
        assert edition(snapshot(root / "site"), small) == "old"
    assert leftovers(root) == [], "the previous site was left beside the output directory"
