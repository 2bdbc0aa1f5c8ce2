"""examples/todo as the README runs it: converge.py, and app.py against a real `syncline serve`
(a copy of the project on 127.0.0.1 port 0), each in its own process with its own replica file."""

from __future__ import annotations

import json
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path
from typing import Any, Iterator

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "todo"
TIMEOUT = 60


class Lines:
    """A process whose stdout lines are read by a daemon thread, so a test can wait for one."""

    def __init__(self, args: list[str], *, cwd: Path, stderr: Path) -> None:
        self._err = stderr.open("w")
        self.proc = subprocess.Popen(args, cwd=cwd, stdout=subprocess.PIPE, stderr=self._err, text=True)
        self.seen: list[str] = []
        self._q: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._q.put(line.rstrip("\n"))
        self._q.put(None)

    def expect(self, pattern: str) -> re.Match[str]:
        """The first new line matching `pattern` (a regex), waiting up to TIMEOUT seconds."""
        while True:
            try:
                line = self._q.get(timeout=TIMEOUT)
            except queue.Empty:
                raise AssertionError(f"no line matching {pattern!r}; saw {self.seen}") from None
            if line is None:
                raise AssertionError(f"exited before a line matching {pattern!r}; saw {self.seen}")
            self.seen.append(line)
            if m := re.search(pattern, line):
                return m

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=TIMEOUT)
        finally:
            self._err.close()


class Served:
    """`syncline serve PROJECT --port 0` (what `python3 dev.py serve` runs), restartable; the
    API key is the one it generates in PROJECT/.syncline/api-key."""

    def __init__(self, project: Path) -> None:
        self.project = project
        self.proc: Lines | None = None
        self.url = ""

    def start(self) -> str:
        log = self.project.parent / "server.log"
        self.proc = Lines(
            [sys.executable, "-m", "server.cli", "serve", str(self.project), "--port", "0"],
            cwd=self.project.parent,
            stderr=log,
        )
        try:
            self.url = self.proc.expect(r"Syncline serving \S+ at (\S+)").group(1)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\nserver log:\n{log.read_text()[-3000:]}") from None
        return self.url

    def stop(self) -> None:
        if self.proc is not None:
            assert self.proc.stop() == 0
            self.proc = None

    @property
    def key(self) -> str:
        return (self.project / ".syncline" / "api-key").read_text().strip()

    def todos(self) -> dict[str, dict[str, Any]]:
        """The server's todos by title (tombstones included, flagged `_deleted`)."""
        body = json.dumps({"query": "{ syncTodos(lastSync: 0, limit: 1000) { items { id title done _deleted } } }"})
        req = urllib.request.Request(
            self.url, data=body.encode(), headers={"content-type": "application/json", "x-api-key": self.key}
        )
        with urllib.request.urlopen(req, timeout=TIMEOUT) as r:
            items = json.load(r)["data"]["syncTodos"]["items"]
        return {it["title"]: it for it in items}


def project(tmp: Path, conflict: str | None = None) -> Path:
    target = tmp / "todo"
    shutil.copytree(EXAMPLE, target, ignore=shutil.ignore_patterns(".syncline", "__pycache__", "*.db*"))
    if conflict:
        toml = target / "syncline.toml"
        text = toml.read_text().replace('conflict = "AUTOMERGE"', f'conflict = "{conflict}"')
        assert f'conflict = "{conflict}"' in text
        toml.write_text(text)
    return target


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    s = Served(project(tmp_path))
    s.start()
    try:
        yield s
    finally:
        s.stop()


def app(served: Served, db: Path, *args: str, url: str | None = None) -> str:
    """One app.py command, as the README writes it; returns its stdout."""
    cmd = [sys.executable, str(EXAMPLE / "app.py"), "--url", url or served.url, "--api-key", served.key, "--db", str(db)]
    done = subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=TIMEOUT, cwd=db.parent)
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done.stdout


def added_id(out: str) -> str:
    m = re.search(r"^added ([0-9a-f]{8}) ", out, re.M)
    assert m, out
    return m.group(1)


def test_converge_demo_shows_a_conflict_merged_and_both_replicas_converged() -> None:
    done = subprocess.run(
        [sys.executable, str(EXAMPLE / "converge.py")], capture_output=True, text=True, timeout=2 * TIMEOUT
    )
    assert done.returncode == 0, (done.stdout, done.stderr)
    out = done.stdout
    assert "server stopped: both offline" in out
    assert "pending:        phone 1, laptop 1" in out
    # One side's edit reached the server second and its handler merged both intents.
    assert re.search(r"^(phone|laptop): conflict on \w+ \(attempt 1\): .* -> merged \[x\] 'buy oat milk' #dairy #shop$", out, re.M), out
    for who in ("phone  ", "laptop ", "server "):
        assert re.search(rf"^{who} \[x\] 'buy oat milk' #dairy #shop v3", out, re.M), out
    assert out.count("= server") == 2 and "!= server" not in out
    assert out.rstrip().endswith("converged")


def test_app_add_ls_done_rm_watch_and_an_offline_add(served: Served, tmp_path: Path) -> None:
    db = tmp_path / "todo.db"
    out = app(served, db, "add", "buy milk")
    milk = added_id(out)
    assert "sync: ready, 0 pending" in out
    assert served.todos()["buy milk"]["done"] is False

    out = app(served, db, "ls")
    assert f"{milk}  [ ] 'buy milk'\n" in out and "1 todo(s); sync: ready, 0 pending" in out

    out = app(served, db, "done", milk[:4])  # any unique prefix of the id
    assert f"done {milk}  [x] 'buy milk'" in out
    assert served.todos()["buy milk"]["done"] is True

    dog = added_id(app(served, db, "add", "walk dog"))
    assert f"removed {dog}" in app(served, db, "rm", dog)
    assert served.todos()["walk dog"]["_deleted"] is True

    # watch: a change from another replica arrives live; a second process on the same file
    # only writes (the watcher holds the sync lock) and the watcher sends its change.
    watch = Lines(
        [sys.executable, str(EXAMPLE / "app.py"), "--url", served.url, "--api-key", served.key, "--db", str(db), "watch"],
        cwd=tmp_path,
        stderr=tmp_path / "watch.log",
    )
    try:
        watch.expect(r"^status: ready")
        app(served, tmp_path / "other.db", "add", "from another replica")
        watch.expect(r"^remote create \w+  \[ \] 'from another replica'$")
        out = app(served, db, "add", "from a second process")
        assert "another process syncs this file" in out
        watch.expect(r"^remote \w+ \w+  \[ \] 'from a second process'$")
        assert "from a second process" in served.todos()
    finally:
        assert watch.stop(signal.SIGINT) == 0  # Ctrl-C
    watch.expect(r"^stopped$")

    # Offline: the server is down, the add still succeeds and waits in the outbox.
    url = served.url
    served.stop()
    out = app(served, db, "add", "offline one", url=url)
    offline = added_id(out)
    assert "sync: offline (" in out and "1 pending" in out
    out = app(served, db, "ls", url=url)
    assert f"{offline}  [ ] 'offline one'  (not on the server yet)" in out
    # The next run with the server up sends it.
    served.start()
    out = app(served, db, "ls")
    assert f"{offline}  [ ] 'offline one'\n" in out and "sync: ready, 0 pending" in out
    assert f"{milk}  [x] 'buy milk'\n" in out and "walk dog" not in out and "4 todo(s)" in out
    assert "offline one" in served.todos()


def test_app_merges_a_conflict_and_lists_conflicts_and_dead_letters(tmp_path: Path) -> None:
    served = Served(project(tmp_path, conflict="OPTIMISTIC_CONCURRENCY"))
    served.start()
    try:
        phone, laptop = tmp_path / "phone.db", tmp_path / "laptop.db"
        rid = added_id(app(served, phone, "add", "buy milk"))
        assert f"{rid}  [ ] 'buy milk'" in app(served, laptop, "ls")
        assert "sync: ready" in app(served, laptop, "edit", rid, "buy oat milk")
        # The phone's replica still holds version 1: its tick is refused as stale, and its
        # handler merges the two (ticked, and the longer title).
        out = app(served, phone, "done", rid)
        assert f"conflict on {rid} (attempt 1): ours [x] 'buy milk' | server's [ ] 'buy oat milk' -> merged [x] 'buy oat milk'" in out
        assert "sync: ready, 0 pending" in out
        assert served.todos()["buy oat milk"]["done"] is True
        assert f"{rid}  [x] 'buy oat milk'" in app(served, laptop, "ls")
        out = app(served, phone, "conflicts")
        assert f"#1 {rid} attempt 1: ours [x] 'buy milk' | server's [ ] 'buy oat milk' -> resend; now [x] 'buy oat milk'" in out
        assert "1 conflict(s)" in out

        # A change the server refuses becomes a dead letter; the queue moves on.
        bad = added_id(app(served, phone, "add", "bad date", "--due", "2026-13-45"))
        out = app(served, phone, "dead-letters")
        assert re.search(rf"^#1 create {bad} .*: ValidationError: .*2026-13-45", out, re.M), out
        assert "1 dead letter(s); sync: ready, 0 pending" in out
        assert "bad date" not in served.todos()
        out = app(served, phone, "dead-letters", "--retry", "1")  # refused again: a new dead letter
        assert "queued dead letter 1 again" in out and re.search(rf"^#2 create {bad} .*ValidationError", out, re.M), out
        out = app(served, phone, "dead-letters", "--drop", "2")
        assert "dropped dead letter 2" in out and "0 dead letter(s)" in out
    finally:
        served.stop()
