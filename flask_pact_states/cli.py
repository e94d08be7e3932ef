"""``flask pact-verify`` and ``flask pact-states``: thin click layers.

Both are registered once, through the ``flask.commands`` entry points in
``pyproject.toml``, so they exist for every app ``flask --app`` loads; the
app must have :class:`~flask_pact_states.PactStates` set up.

Exit codes of ``pact-verify``: 0 verified, 1 verification failed, 2 usage
errors (no sources, missing file, invalid pact, app without PactStates),
130 interrupted (Ctrl-C or SIGTERM; the server is stopped and every state
undone first).
"""

from __future__ import annotations

import json
import os
import tempfile
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import click
from flask import current_app
from flask.cli import with_appcontext

from .console import (
    ProgressCounter,
    exit_interrupted,
    interrupts_on_sigterm,
    logging_to_stderr,
    progress_bar,
)
from .errors import PactSourceError, VerificationSetupError, WorkerDiedError
from .runner.broker import BrokerOptions, PublishOptions
from .runner.options import VerifyOptions

if TYPE_CHECKING:
    from .runner.options import Progress
    from .runner.results import VerificationResult

__all__ = [
    "ProgressCounter",
    "check_states_command",
    "list_states_command",
    "pact_states_group",
    "pact_verify_command",
]

_LOG_LEVELS: Final = ("debug", "info", "warning", "error", "critical", "off")
#: The defaults shown in --help are the options object's own.
_DEFAULTS: Final = VerifyOptions.defaults()


def _env(name: str) -> dict[str, Any]:
    return {"envvar": f"PACT_BROKER_{name}", "show_envvar": True}


_MANY: Final = {"multiple": True}
_FLAG: Final = {"is_flag": True}
#: The broker options of pact-verify: name, help, other click.option keywords.
_BROKER_OPTIONS: Final[tuple[tuple[str, str, dict[str, Any]], ...]] = (
    ("--broker-url", "Pact Broker to fetch pacts from.", _env("BASE_URL")),
    ("--broker-token", "Bearer token for the broker.", _env("TOKEN")),
    ("--broker-username", "Basic-auth user for the broker.", _env("USERNAME")),
    ("--broker-password", "Basic-auth password for the broker.", _env("PASSWORD")),
    (
        "--consumer-version-selector",
        "A consumer version selector as JSON, e.g. '{\"mainBranch\": true}'."
        " Repeatable.",
        {"metavar": "JSON", **_MANY},
    ),
    ("--consumer-branch", "Verify the latest pact of this branch. Repeatable.", _MANY),
    ("--consumer-tag", "Verify the latest pact with this tag. Repeatable.", _MANY),
    ("--main-branch", "Verify the pacts of each consumer's main branch.", _FLAG),
    ("--deployed-or-released", "Verify deployed or released consumers.", _FLAG),
    ("--include-pending", "Include pending pacts (never fail the run).", _FLAG),
    (
        "--include-wip-since",
        "Include work-in-progress pacts published since this date.",
        {"type": click.DateTime(["%Y-%m-%d"])},
    ),
    ("--provider-branch", "The provider's branch.", {}),
    ("--provider-tag", "A provider tag. Repeatable.", _MANY),
    ("--provider-version", "The provider version results are published for.", {}),
    ("--build-url", "URL of the CI build, sent with results.", {}),
    ("--publish", "Publish results to the broker (needs --provider-version).", _FLAG),
)


def _broker_options(func: Any) -> Any:
    for name, help_text, keywords in reversed(_BROKER_OPTIONS):
        func = click.option(name, help=help_text, **keywords)(func)
    return func


@click.command(
    "pact-verify", short_help="Verify the app against Pact files or a Pact Broker."
)
@click.argument("sources", nargs=-1, metavar="[SOURCE]...")
@click.option(
    "--provider",
    help="Provider name: only its pacts are verified [default:"
    " PACT_STATES_PROVIDER, else the one the local pacts name].",
)
@click.option(
    "--consumer",
    "consumers",
    multiple=True,
    help="Verify only this consumer's pacts. Repeatable.",
)
@click.option(
    "--description", help="Only interactions whose description matches this regex."
)
@click.option("--state", help="Only interactions with a state matching this regex.")
@click.option(
    "--junit",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the results to FILE as JUnit XML.",
)
@click.option(
    "--json",
    "json_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the results to FILE as JSON.",
)
@click.option(
    "--request-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=_DEFAULTS["request_timeout"],
    show_default=True,
    help="Seconds the verifier waits for each request.",
)
@click.option(
    "--log-level",
    type=click.Choice(_LOG_LEVELS, case_sensitive=False),
    default="off",
    show_default=True,
    help="Log records of flask_pact_states and the verifier to show on stderr;"
    " off by default, as the report already says what failed.",
)
@click.option(
    "--minimal-trust-store/--system-trust-store",
    "minimal_trust_store",
    default=None,
    help="When every source is a local file, give the verifier a one-certificate trust"
    " store instead of loading the system's for every interaction (much"
    " faster; nothing is fetched over TLS) [default: minimal, or"
    " PACT_STATES_MINIMAL_TRUST_STORE].",
)
@click.option(
    "--direct-state-calls/--app-state-calls",
    "direct_state_calls",
    default=None,
    help="Answer the verifier's state calls directly, in an app context,"
    " or send them through the app's request handling (its before_request"
    " hooks and WSGI middleware see them; slower) [default: direct, or"
    " PACT_STATES_DIRECT_STATE_CALLS].",
)
@click.option(
    "--chunk-size",
    type=click.IntRange(min=0),
    default=_DEFAULTS["chunk_size"],
    show_default=True,
    help="Verify a local pact of more interactions than this as several"
    " verifier runs of this many (much faster for big pacts; the results are"
    " merged). 0 turns it off. URL and broker pacts are never chunked.",
)
@click.option(
    "--jobs",
    default="1",
    show_default=True,
    metavar="N|auto",
    help="Verify chunks and pacts in N processes: this one and N - 1 workers,"
    " each with its own app built from --app; 'auto' uses every core.",
)
@_broker_options
@with_appcontext
def pact_verify_command(**options: Any) -> None:
    """Verify the app against its consumers' pacts and say exactly what failed.

    SOURCE is a pact file, a directory of pact files, or the http(s) URL of
    one; add a Pact Broker with --broker-url. Local pacts are verified per
    consumer, so handlers registered for one consumer apply. The report
    lists every interaction, then each failure with its reason (the
    response mismatch, or the state handler's exception and traceback),
    then state coverage, and ends with "N passed, M failed".

    Exits 0 when verified, 1 when verification failed or a --jobs worker
    process died during the run, 2 on usage errors and 130 when interrupted.
    """
    from .runner.api import verify

    ctx = click.get_current_context()
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    level = options["log_level"]
    with logging_to_stderr(level), interrupts_on_sigterm(), progress_bar() as bar:
        try:
            result = verify(app, options=_verify_options(options, bar))
        except (PactSourceError, VerificationSetupError) as error:
            raise click.UsageError(str(error)) from None
        except WorkerDiedError as error:
            raise click.ClickException(str(error)) from None
        except KeyboardInterrupt:
            exit_interrupted()
    click.echo(result.report(), nl=False)
    _write_files(result, options["junit"], options["json_file"])
    ctx.exit(0 if result.passed else 1)


def _verify_options(options: dict[str, Any], bar: Progress | None) -> VerifyOptions:
    """The verification's options from the command's.

    :raises click.UsageError: for options that do not fit together.
    """
    if options["publish"] and not options["provider_version"]:
        msg = "--publish needs --provider-version: the version results are for."
        raise click.UsageError(msg)
    _check_output_paths(options["junit"], options["json_file"])
    jobs = _jobs(options["jobs"])
    return VerifyOptions(
        sources=options["sources"],
        provider=options["provider"],
        consumers=options["consumers"],
        description=options["description"],
        state=options["state"],
        request_timeout=options["request_timeout"],
        minimal_trust_store=options["minimal_trust_store"],
        direct_state_calls=options["direct_state_calls"],
        chunk_size=options["chunk_size"],
        jobs=jobs,
        app_factory=_app_factory(jobs),
        broker=_broker(options),
        publish=_publish(options),
        progress=bar,
    )


def _jobs(text: str) -> int | str:
    """``--jobs`` as the options object takes it; it checks the number."""
    if text == "auto":
        return text
    try:
        return int(text)
    except ValueError:
        msg = f"--jobs takes a number or 'auto', not {text!r}."
        raise click.BadParameter(msg, param_hint="--jobs") from None


def _app_factory(jobs: int | str) -> str | None:
    """The ``--app`` import string, for workers to load the app with."""
    from flask.cli import ScriptInfo

    info = click.get_current_context().find_object(ScriptInfo)
    factory = info.app_import_path if info else None
    if jobs != 1 and not factory:
        msg = "--jobs needs the app as --app (or FLASK_APP): each worker loads it."
        raise click.UsageError(msg)
    return factory


def _check_output_paths(*paths: Path | None) -> None:
    # Before the run, so that a typo does not cost a whole verification.
    for path in paths:
        if path is not None and not path.absolute().parent.is_dir():
            msg = f"Cannot write {str(path)!r}: {str(path.parent)!r} does not exist."
            raise click.UsageError(msg)


def _broker(options: dict[str, Any]) -> BrokerOptions | None:
    if not options["broker_url"]:
        return None
    since = options["include_wip_since"]
    return BrokerOptions(
        url=options["broker_url"],
        token=options["broker_token"],
        username=options["broker_username"],
        password=options["broker_password"],
        selectors=[_selector(t) for t in options["consumer_version_selector"]],
        consumer_branches=options["consumer_branch"],
        consumer_tags=options["consumer_tag"],
        main_branch=options["main_branch"],
        deployed_or_released=options["deployed_or_released"],
        include_pending=options["include_pending"],
        include_wip_since=since.date() if since else None,
        provider_branch=options["provider_branch"],
        provider_tags=options["provider_tag"],
    )


def _selector(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as error:
        msg = f"--consumer-version-selector {text!r} is not valid JSON ({error})."
        raise click.UsageError(msg) from None
    if not isinstance(value, dict):
        msg = (
            f"--consumer-version-selector {text!r} must be a JSON object,"
            ' e.g. \'{"branch": "main"}\'.'
        )
        raise click.UsageError(msg)
    return value


def _publish(options: dict[str, Any]) -> PublishOptions | None:
    if not options["publish"]:
        return None
    return PublishOptions(
        provider_version=options["provider_version"],
        branch=options["provider_branch"],
        tags=options["provider_tag"],
        build_url=options["build_url"],
    )


def _write_files(
    result: VerificationResult, junit: Path | None, data: Path | None
) -> None:
    for path, text in ((junit, result.to_junit), (data, result.to_json)):
        if path is None:
            continue
        try:
            write_atomically(path, text())
        except OSError as error:
            msg = f"Cannot write {str(path)!r}: {error.strerror or error}."
            raise click.ClickException(msg) from None


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` whole or not at all: a reader (a CI step
    watching the file) never sees half of it.

    A path that is not a regular file (``/dev/stdout``, a FIFO) is written
    in place: replacing it would replace the device.

    :raises OSError: when the file cannot be written.
    """
    if path.exists() and not path.is_file():
        path.write_text(text, encoding="utf-8")
        return
    path = Path(os.path.realpath(path))  # a link stays a link to the new file
    handle, temporary = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=".tmp", dir=path.absolute().parent
    )
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
        # mkstemp makes it private; the file gets the mode a new file gets.
        umask = os.umask(0o022)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)
        os.replace(temporary, path)
    except BaseException:
        with suppress(OSError):
            os.unlink(temporary)
        raise


@click.group("pact-states", short_help="Inspect provider states: list, check.")
def pact_states_group() -> None:
    """Inspect the app's provider-state handlers without running a verifier."""


@pact_states_group.command("list", short_help="List the registered state handlers.")
@with_appcontext
def list_states_command() -> None:
    """List the registered states and message producers: name, consumer
    scope and handler location."""
    from .provider.state import get_app_states
    from .runner.report import render_handlers

    states = get_app_states()
    click.echo(render_handlers(states.registry, states.producers), nl=False)


@pact_states_group.command("check", short_help="Check pacts' states have handlers.")
@click.argument("sources", nargs=-1, required=True, metavar="SOURCE...")
@with_appcontext
def check_states_command(sources: tuple[str, ...]) -> None:
    """Check, without a server or verifier, which handler answers each state
    the pacts in SOURCE (files or directories) use, and which producer each
    message.

    Missing handlers and producers are printed as ready-to-paste stubs;
    exits 1 when any is missing, 2 when a source is not a pact.
    """
    from .provider.state import get_app_states
    from .runner.coverage import check_coverage, messages_used, states_used
    from .runner.pacts import load_pacts
    from .runner.report import render_check

    try:
        pacts = load_pacts(*sources)
    except PactSourceError as error:
        raise click.UsageError(str(error)) from None
    states = get_app_states()
    coverage = check_coverage(states_used(pacts), states.registry)
    producers = check_coverage(messages_used(pacts), states.producers)
    click.echo(render_check(coverage, len(pacts), producers), nl=False)
    missing = coverage.missing or producers.missing
    click.get_current_context().exit(1 if missing else 0)
