"""``vigil rules``: validate, test, backtest, deploy, roll back and inspect the rule set.

Mounted on the main CLI as ``vigil rules``. A rules folder holds one YAML file per rule; without
one, commands use the packaged library (``detectors/rules/``). Deploys go to the Redis named by
``REDIS_URL`` or the running ``vigil up`` stack; workers switch to a deployed version within
seconds (they poll ``vigil:rules:current`` and listen on the ``vigil:rules`` channel).
"""

from __future__ import annotations

import getpass
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from detectors.errors import RuleProblem, RuleSetInvalid
from detectors.ruleset import (
    check_examples,
    compile_file,
    default_sources,
    load_rules,
    run_examples,
    sources_from_dir,
)

if TYPE_CHECKING:
    from pipeline.rule_store import Deployment, RuleStore

rules_app = typer.Typer(help="Rules: validate, test, backtest, deploy, roll back.",
                        no_args_is_help=True)
console = Console()
err = Console(stderr=True)

RulesDir = Annotated[Optional[Path], typer.Argument(
    help="Folder of rule YAML files (default: the packaged library).",
    exists=True, file_okay=False, dir_okay=True)]


def _fail(message: str, code: int = 1) -> None:
    err.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code)


def _sources(directory: Path | None) -> tuple[dict[str, str], str]:
    if directory is None:
        return default_sources(), "the packaged library (detectors/rules)"
    sources = sources_from_dir(directory)
    if not sources:
        _fail(f"no rule files (*.yaml, *.yml) in {directory}")
    return sources, str(directory)


def _problems_table(problems: list[RuleProblem], title: str) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("file")
    table.add_column("field")
    table.add_column("problem")
    for problem in problems:
        table.add_row(problem.file, problem.field, problem.message)
    return table


def _default_author() -> str:
    try:
        return os.environ.get("USER") or getpass.getuser()
    except (KeyError, OSError):
        return ""


# ---- offline ---------------------------------------------------------------------------------


@rules_app.command("validate")
def validate_command(directory: RulesDir = None) -> None:
    """Check every rule file (schema, CEL, RE2, ids, examples); list every problem."""
    sources, where = _sources(directory)
    try:
        rules = load_rules(sources)
    except RuleSetInvalid as exc:
        console.print(_problems_table(exc.problems, f"{len(exc.problems)} problem(s) in {where}"))
        raise typer.Exit(1) from None
    console.print(f"[green]{len(rules.rules)} rule(s) valid[/] in {where} "
                  f"(fingerprint {rules.fingerprint})")


@rules_app.command("test")
def test_command(directory: RulesDir = None) -> None:
    """Run every rule's inline examples and show which pass and which fail."""
    sources, where = _sources(directory)
    table = Table(title=f"Rule examples in {where}", title_justify="left")
    table.add_column("rule", no_wrap=True)
    table.add_column("example", overflow="fold")
    for column in ("expect", "got", "result"):
        table.add_column(column, no_wrap=True)
    table.add_column("detail", overflow="fold")
    total = failed = 0
    for file_name, text in sorted(sources.items()):
        rule, problems = compile_file(file_name, text)
        if rule is None:
            for problem in problems:
                failed += 1
                table.add_row(file_name, "-", "-", "invalid", "[red]FAIL[/]",
                              f"{problem.field}: {problem.message}")
            continue
        for outcome in run_examples(rule):
            total += 1
            failed += not outcome.passed
            table.add_row(rule.id, outcome.name, outcome.expect, outcome.got,
                          "[green]pass[/]" if outcome.passed else "[red]FAIL[/]",
                          outcome.detail)
        # A rule also needs at least one example of each kind.
        for problem in check_examples(rule, file_name):
            if "needs at least one example" in problem.message:
                failed += 1
                table.add_row(rule.id, "-", "-", "-", "[red]FAIL[/]", problem.message)
    console.print(table)
    if failed:
        err.print(f"[bold red]{failed} failure(s)[/] ({total} example run(s))")
        raise typer.Exit(1)
    console.print(f"[green]all {total} example run(s) behave as stated[/]")


@rules_app.command("backtest")
def backtest_command(
    events: Annotated[Path, typer.Option(help="JSONL events to replay.", exists=True, dir_okay=False)],
    labels: Annotated[Optional[Path], typer.Option(
        help="Ground truth JSONL ({event_id, scenario}); unlisted events are benign.",
        exists=True, dir_okay=False)] = None,
    rules: Annotated[Optional[Path], typer.Option(
        help="Candidate rules folder (default: the packaged library).",
        exists=True, file_okay=False)] = None,
    json_out: Annotated[Optional[Path], typer.Option("--json", help="Also write the report as JSON here.")] = None,
) -> None:
    """Replay events through a candidate rule set and the live one: hits, precision, recall, diff."""
    from pipeline.backtest import backtest_file, live_rule_set, render
    from pipeline.stack import settings_with_stack

    sources, where = _sources(rules)
    try:
        candidate = load_rules(sources)
    except RuleSetInvalid as exc:
        console.print(_problems_table(exc.problems, f"candidate rule set {where} is invalid"))
        raise typer.Exit(1) from None
    live, live_source = live_rule_set(settings_with_stack().redis_url)
    with console.status(f"replaying {events} through candidate and live rules..."):
        try:
            report = backtest_file(events, candidate, live, labels=labels, live_source=live_source)
        except ValueError as exc:
            _fail(str(exc))
            return
    render(report, console)
    if json_out is not None:
        json_out.write_text(json.dumps(report.as_dict(), indent=2) + "\n", encoding="utf-8")
        console.print(f"report written to {json_out}")


# ---- deploys ---------------------------------------------------------------------------------


@contextmanager
def _store() -> Iterator[RuleStore]:
    import redis

    from pipeline.rule_store import RuleStore
    from pipeline.stack import settings_with_stack

    url = settings_with_stack().redis_url
    client = redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=10)
    try:
        try:
            client.ping()
        except (redis.exceptions.RedisError, OSError) as exc:
            _fail(f"cannot reach Redis at {url} ({exc}); start the stack with `vigil up` or set REDIS_URL")
        yield RuleStore(client)
    finally:
        client.close()


def _print_deployment(deployment: Deployment, *, created: bool) -> None:
    what = (f"rollback of v{deployment.rollback_of}" if deployment.action == "rollback"
            else "deploy")
    if created:
        console.print(f"[green]rule set v{deployment.version}[/] in force ({what} by "
                      f"{deployment.author}, fingerprint {deployment.fingerprint}): "
                      f"{deployment.summary}")
        console.print("workers switch within a few seconds")
    else:
        console.print(f"no change: v{deployment.version} already runs this rule set "
                      f"(fingerprint {deployment.fingerprint})")


def _audited_by(author: str | None, message: str, action: str) -> str:
    """Who makes an audited change; refuses a change without a who and a why."""
    who = author or _default_author()
    if not who.strip():
        _fail(f"say who {action}: --author NAME (or set $USER)")
    if not message.strip():
        _fail("say why: --message TEXT")
    return who


@rules_app.command("deploy")
def deploy_command(
    directory: RulesDir = None,
    message: Annotated[str, typer.Option("--message", "-m", help="Why (kept in the audit log).")] = "",
    author: Annotated[Optional[str], typer.Option(help="Who deploys (default: $USER).")] = None,
) -> None:
    """Validate a rule set and make it the one workers run (a new, audited version)."""
    from pipeline.rule_store import RuleStoreError

    who = _audited_by(author, message, "deploys")
    sources, where = _sources(directory)
    with _store() as store:
        before = store.current_version()
        try:
            deployment = store.deploy(sources, author=who, message=message)
        except RuleSetInvalid as exc:
            console.print(_problems_table(exc.problems, f"refused: {where} has "
                                          f"{len(exc.problems)} problem(s); nothing changed"))
            raise typer.Exit(1) from None
        except RuleStoreError as exc:
            _fail(str(exc))
            return
    _print_deployment(deployment, created=deployment.version != before)


@rules_app.command("rollback")
def rollback_command(
    version: Annotated[int, typer.Argument(help="The version whose rules to run again.")],
    message: Annotated[str, typer.Option("--message", "-m", help="Why (kept in the audit log).")] = "",
    author: Annotated[Optional[str], typer.Option(help="Who rolls back (default: $USER).")] = None,
) -> None:
    """Deploy an earlier version's rules again, as a new version recorded as a rollback."""
    from pipeline.rule_store import RuleStoreError

    who = _audited_by(author, message, "rolls back")
    with _store() as store:
        before = store.current_version()
        try:
            deployment = store.rollback(version, author=who, message=message)
        except RuleSetInvalid as exc:
            console.print(_problems_table(exc.problems, f"refused: v{version} no longer loads; "
                                          "nothing changed"))
            raise typer.Exit(1) from None
        except RuleStoreError as exc:
            _fail(str(exc))
            return
    _print_deployment(deployment, created=deployment.version != before)


@rules_app.command("history")
def history_command(
    limit: Annotated[int, typer.Option(help="Show at most this many, newest first.")] = 50,
) -> None:
    """Every deploy and rollback, newest first: who, when, why, what changed."""
    with _store() as store:
        history = store.history()
        current = store.current_version()
    if not history:
        console.print("nothing deployed yet; workers run the packaged library")
        return
    table = Table(title="Rule-set deploys", title_justify="left")
    for column in ("version", "when (UTC)", "author", "action", "message", "changes", "fingerprint"):
        table.add_column(column, overflow="fold")
    for d in reversed(history[-limit:]):
        marker = " [green](current)[/]" if d.version == current else ""
        action = f"rollback of v{d.rollback_of}" if d.action == "rollback" else "deploy"
        table.add_row(f"v{d.version}{marker}", d.deployed_at.strftime("%Y-%m-%d %H:%M:%S"),
                      d.author, action, d.message, d.summary, d.fingerprint)
    console.print(table)


@rules_app.command("show")
def show_command(
    version: Annotated[Optional[int], typer.Argument(help="Version to show (default: current).")] = None,
) -> None:
    """Show a deployed version (default: the one in force) and its rules."""
    from pipeline.rule_store import UnknownVersion

    with _store() as store:
        try:
            deployment = store.current() if version is None else store.get(version)
        except UnknownVersion as exc:
            _fail(str(exc))
            return
    if deployment is None:
        console.print("nothing deployed yet; workers run the packaged library:")
        rules, header = load_rules(), "packaged library"
    else:
        action = (f"rollback of v{deployment.rollback_of}" if deployment.action == "rollback"
                  else "deploy")
        console.print(f"[bold]v{deployment.version}[/] · {action} by {deployment.author} at "
                      f"{deployment.deployed_at:%Y-%m-%d %H:%M:%S} UTC · fingerprint "
                      f"{deployment.fingerprint}")
        console.print(f"message: {deployment.message}")
        console.print(f"changes: {deployment.summary}")
        try:
            rules, header = load_rules(dict(deployment.sources)), f"v{deployment.version}"
        except RuleSetInvalid as exc:
            console.print(_problems_table(exc.problems, f"v{deployment.version} no longer loads"))
            raise typer.Exit(1) from None
    table = Table(title=f"Rules in {header}", title_justify="left")
    for column in ("rule", "version", "mode", "severity", "event types", "labels", "owner"):
        table.add_column(column, overflow="fold")
    for rule in rules.rules:
        spec = rule.spec
        table.add_row(spec.id, str(spec.version),
                      "[magenta]shadow[/]" if spec.mode == "shadow" else spec.mode,
                      spec.severity, ", ".join(spec.event_types), ", ".join(spec.labels),
                      spec.owner)
    console.print(table)
