"""Process-level guarantees of ``flask pact-verify``, with real subprocesses:
exit codes that never say "verified" falsely, workers that die with their
parent, and a report that stays the runner's own (issue 15, items 2 and 5,
and the interrupt notes)."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

import pytest
from process_helpers import flask_process
from verify_helpers import hand_pact, http_interaction

from flask_pact_states import console
from flask_pact_states.provider import mocking

APP_MODULE = '''
    """A provider app whose handlers misbehave at the process level."""
    from __future__ import annotations

    import os
    import sys
    import threading
    from pathlib import Path

    from flask import Flask

    from flask_pact_states import PactStates, mock_db

    DB = {"real": True}
    states = PactStates()
    _never = threading.Event()


    @states.register("the process ends")
    def process_ends() -> None:
        os._exit(0)


    @states.register("a stuck database")
    def stuck() -> None:
        mock_db("hostile_app.DB", {"fake": True})
        with Path("pids").open("a") as pids:
            pids.write(f"{os.getpid()} ")
        print("handler started", file=sys.stderr, flush=True)
        _never.wait()


    def create_app() -> Flask:
        app = Flask(__name__)
        app.testing = True
        app.config["PACT_STATES_LOCK_TIMEOUT"] = 0.5
        states.init_app(app)

        @app.get("/ping")
        def ping() -> dict[str, bool]:
            return {"pong": True}

        return app
'''


def _flask(directory: Path, *arguments: str) -> subprocess.Popen[str]:
    return flask_process(directory, "hostile_app", APP_MODULE, *arguments)


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie nobody reaped has ended)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status


def test_cli_handler_calling_os_exit_0_does_not_exit_0(tmp_path: Path) -> None:
    interactions = [
        http_interaction("ping"),
        http_interaction("the end", states=["the process ends"]),
    ]
    pact = hand_pact(tmp_path / "web.json", interactions)

    with _flask(tmp_path, "pact-verify", str(pact)) as process:
        out, err = process.communicate(timeout=60)

    assert process.returncode == 1, (out, err)
    assert "os._exit(0) was called during a verification" in err


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_cli_jobs_workers_die_with_a_killed_parent(tmp_path: Path) -> None:
    """SIGKILL leaves the parent no chance to stop its workers: they must
    end by themselves, not keep serving the app on 127.0.0.1."""
    interactions = [
        http_interaction(f"stuck {n}", states=["a stuck database"]) for n in range(2)
    ]
    pact = hand_pact(tmp_path / "web.json", interactions)
    pids = tmp_path / "pids"
    arguments = ("pact-verify", str(pact), "--jobs", "2", "--chunk-size", "1")

    with _flask(tmp_path, *arguments) as process:
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                seen = set(pids.read_text().split()) if pids.exists() else set()
                workers = {int(pid) for pid in seen} - {process.pid}
                if workers:
                    break
                time.sleep(0.05)
            else:
                pytest.fail("no worker ran a handler within 60 s")
            process.kill()
            process.wait(timeout=10)
        finally:
            process.kill()
        [worker] = workers
        deadline = time.monotonic() + 10
        while _alive(worker) and time.monotonic() < deadline:
            time.sleep(0.05)
        alive = _alive(worker)
        if alive:
            os.kill(worker, signal.SIGKILL)

    assert not alive, "the worker outlived its killed parent"


def _interrupt_when_started(
    process: subprocess.Popen[str],
) -> tuple[str, str]:
    """SIGINT once a handler runs; the process's stdout and stderr."""
    lines: queue.Queue[str] = queue.Queue()

    def read(stream: IO[str] | None) -> None:
        for line in stream or ():
            lines.put(line)

    reader = threading.Thread(target=read, args=(process.stderr,), daemon=True)
    reader.start()
    try:
        assert lines.get(timeout=60) == "handler started\n"
        process.send_signal(signal.SIGINT)
        out = process.stdout.read() if process.stdout else ""
        assert process.wait(timeout=30) == 130
    finally:
        process.kill()
        reader.join(timeout=10)
    return out, "".join(lines.queue)


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_cli_interrupt_keeps_the_verifier_s_report_off_stdout(
    tmp_path: Path, jobs: str
) -> None:
    interactions = [
        http_interaction(f"stuck {n}", states=["a stuck database"]) for n in range(4)
    ]
    pact = hand_pact(tmp_path / "web.json", interactions)
    arguments = ("pact-verify", str(pact), "--jobs", jobs, "--chunk-size", "2")

    with _flask(tmp_path, *arguments) as process:
        out, err = _interrupt_when_started(process)

    assert "Verifying a pact between" not in out
    assert out == ""
    assert "Traceback" not in err
    assert "leaked semaphore" not in err


@pytest.mark.parametrize(
    ("left", "said"),
    [
        (0, "stopped the server and undid every state change."),
        (2, "2 patch(es) are still in place, made by a state handler"),
    ],
)
def test_interrupt_message_never_claims_an_undo_it_did_not_do(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    left: int,
    said: str,
) -> None:
    """A handler still running after the undo (it hangs, and patches on)
    leaves patches: the message used to say "undid every state change"
    while counting them."""

    class Exited(Exception):
        pass

    def exit_(status: int) -> None:
        raise Exited(status)

    monkeypatch.setattr(mocking, "active_patch_count", lambda: left)
    monkeypatch.setattr(os, "_exit", exit_)

    with pytest.raises(Exited):
        console.exit_interrupted()

    err = capsys.readouterr().err
    assert said in err
    if left:
        assert "undid every state change" not in err


def test_cli_replaces_output_files_whole(tmp_path: Path) -> None:
    """A reader of the old JUnit file keeps reading it whole: the new one
    replaces it, it is not rewritten in place (item 15)."""
    pact = hand_pact(tmp_path / "web.json", [http_interaction("ping")])
    junit = tmp_path / "junit.xml"
    junit.write_text("<old/>" * 1000, encoding="utf-8")

    with junit.open(encoding="utf-8") as reader:
        with _flask(tmp_path, "pact-verify", str(pact), "--junit", "junit.xml") as p:
            _, err = p.communicate(timeout=60)
        old = reader.read()

    assert p.returncode == 0, err
    assert old == "<old/>" * 1000
    assert junit.read_text(encoding="utf-8").startswith("<?xml")
    assert oct(junit.stat().st_mode & 0o777) == oct(0o666 & ~_umask())
    assert not [f for f in os.listdir(tmp_path) if f.endswith(".tmp")]


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_cli_hung_handler_ends_the_run_with_its_name(tmp_path: Path, jobs: str) -> None:
    """Every wait is bounded, in --jobs workers too: the run ends, exit 1,
    naming the handler that hangs (it hung for ever before)."""
    interactions = [
        http_interaction(f"stuck {n}", states=["a stuck database"]) for n in range(2)
    ]
    pact = hand_pact(tmp_path / "web.json", interactions)
    arguments = ("pact-verify", str(pact), "--jobs", jobs, "--chunk-size", "1")

    with _flask(tmp_path, *arguments, "--request-timeout", "1") as process:
        try:
            out, err = process.communicate(timeout=90)
        finally:
            process.kill()

    assert process.returncode == 1, err
    assert "stuck() was still running" in out
    assert "_never.wait()" in out
