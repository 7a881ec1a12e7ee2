"""``vigil rules``: validate, test, backtest, deploy, roll back and inspect the rule set.

Mounted on the main CLI as ``vigil rules``. A rules folder holds one YAML file per rule; without
one, commands use the packaged library (``detectors/rules/``). Deploys go to the Redis named by
``REDIS_URL`` or the running ``vigil up`` stack; workers switch to a deployed version within
seconds (they poll ``vigil:rules:current`` and listen on the ``vigil:rules`` channel).

A deploy records what its backtest expects of each rule (hits per event of the rule's event
types on a traffic sample): ``--backtest-events FILE`` replays a sample through the candidate
set, ``--backtest-report FILE`` takes the report ``vigil rules backtest --json FILE`` saved (it
must be of the very rules deployed). Without either the deploy is recorded as "no backtest".
"""

from __future__ import annotations

import getpass
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn, Optional

import typer
from rich.table import Table

from detectors.errors import RuleProblem, RuleSetInvalid
from detectors.ruleset import (
    RuleSet,
    check_cost,
    check_examples,
    compile_file,
    default_sources,
    load_rules,
    run_examples,
    sources_from_dir,
)
from pipeline.cli.output import console, err, fail

if TYPE_CHECKING:
    from pipeline.rules.records import BacktestExpectation, Deployment
    from pipeline.rules.store import RuleStore

rules_app = typer.Typer(help="Rules: validate, test, backtest, deploy, roll back.",
                        no_args_is_help=True)

#: Below this many events of a rule's types in the sample, its expected ratio is loose (a few
#: hits either way move it a lot); the deploy says so.
SMALL_SAMPLE = 1000

RulesDir = Annotated[Optional[Path], typer.Argument(
    help="Folder of rule YAML files (default: the packaged library).",
    exists=True, file_okay=False, dir_okay=True)]


def _sources(directory: Path | None) -> tuple[dict[str, str], str]:
    if directory is None:
        return default_sources(), "the packaged library (detectors/rules)"
    sources = sources_from_dir(directory)
    if not sources:
        fail(f"no rule files (*.yaml, *.yml) in {directory}")
    return sources, str(directory)


def _problems_table(problems: list[RuleProblem], title: str) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("file")
    table.add_column("field")
    table.add_column("problem")
    for problem in problems:
        table.add_row(problem.file, problem.field, problem.message)
    return table


def _load_or_exit(sources: dict[str, str], title: Callable[[int], str]) -> RuleSet:
    """The rule set ``sources`` make; if they are invalid, a table of every problem (headed
    ``title(number of problems)``) and exit status 1."""
    try:
        return load_rules(sources)
    except RuleSetInvalid as exc:
        _refuse(exc.problems, title(len(exc.problems)))


def _refuse(problems: list[RuleProblem], title: str) -> NoReturn:
    """Show every problem in a table headed ``title``, and exit with status 1."""
    console.print(_problems_table(problems, title))
    raise typer.Exit(1) from None


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
    rules = _load_or_exit(sources, lambda count: f"{count} problem(s) in {where}")
    console.print(f"[green]{len(rules.rules)} rule(s) valid[/] in {where} "
                  f"(fingerprint {rules.fingerprint})")


@rules_app.command("test")
def test_command(directory: RulesDir = None) -> None:
    """Run every rule's inline examples and show which pass and which fail; measure each rule's
    cost against its budget."""
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
        # A rule also needs at least one example of each kind, and must fit its cost budget.
        for problem in check_examples(rule, file_name):
            if "needs at least one example" in problem.message:
                failed += 1
                table.add_row(rule.id, "-", "-", "-", "[red]FAIL[/]", problem.message)
        for problem in check_cost(rule, file_name):
            failed += 1
            table.add_row(rule.id, "(cost)", "-", "over budget", "[red]FAIL[/]", problem.message)
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
    from pipeline.local.stack import settings_with_stack
    from pipeline.offline.backtest import backtest_file, live_rule_set
    from pipeline.offline.backtest_report import render

    sources, where = _sources(rules)
    candidate = _load_or_exit(sources, lambda count: f"candidate rule set {where} is invalid")
    live, live_source = live_rule_set(settings_with_stack().redis_url)
    with console.status(f"replaying {events} through candidate and live rules..."):
        try:
            report = backtest_file(events, candidate, live, labels=labels, live_source=live_source)
        except ValueError as exc:
            fail(str(exc))
            return
    render(report, console)
    if json_out is not None:
        json_out.write_text(json.dumps(report.as_dict(), indent=2) + "\n", encoding="utf-8")
        console.print(f"report written to {json_out}")


# ---- deploys ---------------------------------------------------------------------------------


@contextmanager
def _store() -> Iterator[RuleStore]:
    import redis

    from pipeline.local.stack import settings_with_stack
    from pipeline.rules.store import RuleStore

    url = settings_with_stack().redis_url
    client = redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=10)
    try:
        try:
            client.ping()
        except (redis.exceptions.RedisError, OSError) as exc:
            fail(f"cannot reach Redis at {url} ({exc}); start the stack with `vigil up` or set REDIS_URL")
        yield RuleStore(client)
    finally:
        client.close()


def _share(value: float | None) -> str:
    from pipeline.offline.backtest_report import share

    return share(value)


def _backtest_summary(backtest: BacktestExpectation | None) -> str:
    """One line: which sample, how big, per event type; or that there was none."""
    if backtest is None:
        return "[yellow]none[/] (deployed without a backtest: VigilRuleAboveBacktest does not watch it)"
    types = ", ".join(f"{t} {n}" for t, n in sorted(backtest.events_by_type.items()))
    digest = f" sha256 {backtest.sample_sha256[:12]}" if backtest.sample_sha256 else ""
    return (f"{backtest.sample or 'a sample'}{digest}: {backtest.events} events "
            f"({types or 'none valid'}), {backtest.invalid} invalid line(s)")


def _expectation_cells(backtest: BacktestExpectation | None, rule_id: str) -> tuple[str, str]:
    """(hits / events of its types, expected hits per event) of one rule in a backtest."""
    expected = backtest.rules.get(rule_id) if backtest is not None else None
    if expected is None:
        return "-", "-"
    if expected.events == 0:
        return "0 / 0", "[yellow]no events of its types[/]"
    ratio = _share(expected.hit_ratio)
    if expected.events < SMALL_SAMPLE:
        ratio += " [yellow](small sample)[/]"
    return f"{expected.hits} / {expected.events}", ratio


def _print_expectations(backtest: BacktestExpectation | None) -> None:
    """What a deploy recorded: the backtest's sample and each rule's expected ratio."""
    console.print(f"backtest: {_backtest_summary(backtest)}")
    if backtest is None:
        return
    table = Table(title="Expected hits per event of each rule's types (from the backtest)",
                  title_justify="left")
    for column in ("rule", "mode", "hits / events", "expected hits/event"):
        table.add_column(column, overflow="fold")
    for rule_id, expected in sorted(backtest.rules.items()):
        table.add_row(rule_id, expected.mode, *_expectation_cells(backtest, rule_id))
    console.print(table)
    loose = sorted(r for r, e in backtest.rules.items() if e.events < SMALL_SAMPLE)
    if loose:
        err.print(f"[yellow]warning:[/] fewer than {SMALL_SAMPLE} events of their types in the "
                  f"sample for {', '.join(loose)}: their expected ratios are loose")


def _print_deployment(deployment: Deployment, *, created: bool) -> None:
    what = (f"rollback of v{deployment.rollback_of}" if deployment.action == "rollback"
            else "deploy")
    if created:
        console.print(f"[green]rule set v{deployment.version}[/] in force ({what} by "
                      f"{deployment.author}, fingerprint {deployment.fingerprint}): "
                      f"{deployment.summary}")
        _print_expectations(deployment.backtest)
        console.print("workers switch within a few seconds")
    else:
        console.print(f"no change: v{deployment.version} already runs this rule set "
                      f"(fingerprint {deployment.fingerprint})")


def _audited_by(author: str | None, message: str, action: str) -> str:
    """Who makes an audited change; refuses a change without a who and a why."""
    who = author or _default_author()
    if not who.strip():
        fail(f"say who {action}: --author NAME (or set $USER)")
    if not message.strip():
        fail("say why: --message TEXT")
    return who


def _deploy_backtest(sources: dict[str, str], where: str, events: Path | None,
                     report: Path | None) -> BacktestExpectation | None:
    """The backtest a deploy records: run on ``events``, or read from a saved ``report``."""
    from pipeline.offline.backtest import backtest_expectation, expectation_from_report

    if events is None and report is None:
        return None
    if events is not None and report is not None:
        fail("give --backtest-events or --backtest-report, not both")
    candidate = _load_or_exit(
        sources, lambda count: f"refused: {where} has {count} problem(s); nothing changed")
    try:
        if events is not None:
            with console.status(f"backtesting {where} on {events}..."):
                return backtest_expectation(events, candidate)
        assert report is not None
        try:
            data = json.loads(report.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise ValueError(f"{report} is not a backtest report (JSON): {exc}") from None
        return expectation_from_report(data, candidate)
    except ValueError as exc:
        fail(f"{exc}; nothing changed")
    return None


@rules_app.command("deploy")
def deploy_command(
    directory: RulesDir = None,
    message: Annotated[str, typer.Option("--message", "-m", help="Why (kept in the audit log).")] = "",
    author: Annotated[Optional[str], typer.Option(help="Who deploys (default: $USER).")] = None,
    backtest_events: Annotated[Optional[Path], typer.Option(
        "--backtest-events", help="Backtest the rules on this JSONL traffic sample and record "
        "each rule's expected hits per event with the deploy.", exists=True, dir_okay=False)] = None,
    backtest_report: Annotated[Optional[Path], typer.Option(
        "--backtest-report", help="Record the expectations of a report saved by `vigil rules "
        "backtest --json` (it must be of these very rules).", exists=True, dir_okay=False)] = None,
) -> None:
    """Validate a rule set and make it the one workers run (a new, audited version).

    With --backtest-events or --backtest-report the deploy records what the backtest expects
    of each rule (the VigilRuleAboveBacktest alert compares live hits with it); without, it is
    recorded as deployed without a backtest (for emergency fixes).
    """
    from pipeline.rules.records import RuleStoreError

    who = _audited_by(author, message, "deploys")
    sources, where = _sources(directory)
    expectation = _deploy_backtest(sources, where, backtest_events, backtest_report)
    with _store() as store:
        before = store.current_version()
        try:
            deployment = store.deploy(sources, author=who, message=message, backtest=expectation)
        except RuleSetInvalid as exc:
            _refuse(exc.problems, f"refused: {where} has {len(exc.problems)} problem(s); "
                    "nothing changed")
        except RuleStoreError as exc:
            fail(str(exc))
            return
    created = deployment.version != before
    _print_deployment(deployment, created=created)
    if created and expectation is None:
        err.print("[yellow]no backtest recorded[/]: fine for an emergency fix; record one next "
                  "time with --backtest-events FILE or --backtest-report FILE")


@rules_app.command("rollback")
def rollback_command(
    version: Annotated[int, typer.Argument(help="The version whose rules to run again.")],
    message: Annotated[str, typer.Option("--message", "-m", help="Why (kept in the audit log).")] = "",
    author: Annotated[Optional[str], typer.Option(help="Who rolls back (default: $USER).")] = None,
) -> None:
    """Deploy an earlier version's rules again, as a new version recorded as a rollback."""
    from pipeline.rules.records import RuleStoreError

    who = _audited_by(author, message, "rolls back")
    with _store() as store:
        before = store.current_version()
        try:
            deployment = store.rollback(version, author=who, message=message)
        except RuleSetInvalid as exc:
            _refuse(exc.problems, f"refused: v{version} no longer loads; nothing changed")
        except RuleStoreError as exc:
            fail(str(exc))
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
    for column in ("version", "when (UTC)", "author", "action", "message", "changes",
                   "backtest", "fingerprint"):
        table.add_column(column, overflow="fold")
    for d in reversed(history[-limit:]):
        marker = " [green](current)[/]" if d.version == current else ""
        action = f"rollback of v{d.rollback_of}" if d.action == "rollback" else "deploy"
        backtest = (f"{d.backtest.events} events, {len(d.backtest.rules)} rules"
                    if d.backtest is not None else "[yellow]none[/]")
        table.add_row(f"v{d.version}{marker}", d.deployed_at.strftime("%Y-%m-%d %H:%M:%S"),
                      d.author, action, d.message, d.summary, backtest, d.fingerprint)
    console.print(table)


def _deployment(version: int | None) -> Deployment | None:
    """The deployed version asked for (default: the one in force), None if nothing is deployed;
    an unknown version fails the command."""
    from pipeline.rules.records import UnknownVersion

    with _store() as store:
        try:
            return store.current() if version is None else store.get(version)
        except UnknownVersion as exc:
            fail(str(exc))
            raise  # not reached: fail exits


@rules_app.command("export")
def export_command(
    directory: Annotated[Path, typer.Argument(help="Folder to write the rule files into.",
                                              file_okay=False)],
    version: Annotated[Optional[int], typer.Option(help="Version to export (default: current).")] = None,
) -> None:
    """Write a deployed version's rule files into a folder (to backtest or edit what runs)."""
    deployment = _deployment(version)
    if deployment is None:
        fail("nothing deployed yet; workers run the packaged library (detectors/rules)")
        return
    directory.mkdir(parents=True, exist_ok=True)
    clashes = sorted(p.name for p in directory.glob("*.y*ml") if p.name not in deployment.sources)
    if clashes:
        fail(f"{directory} holds other rule files ({', '.join(clashes)}); use an empty folder")
    for name, text in sorted(deployment.sources.items()):
        (directory / name).write_text(text, encoding="utf-8")
    console.print(f"v{deployment.version}: {len(deployment.sources)} rule file(s) written to {directory}")


@rules_app.command("show")
def show_command(
    version: Annotated[Optional[int], typer.Argument(help="Version to show (default: current).")] = None,
) -> None:
    """Show a deployed version (default: the one in force) and its rules."""
    deployment = _deployment(version)
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
        console.print(f"backtest: {_backtest_summary(deployment.backtest)}")
        rules = _load_or_exit(dict(deployment.sources),
                              lambda count: f"v{deployment.version} no longer loads")
        header = f"v{deployment.version}"
    backtest = deployment.backtest if deployment is not None else None
    table = Table(title=f"Rules in {header}", title_justify="left")
    for column in ("rule", "version", "mode", "severity", "event types", "labels", "owner",
                   "backtest hits / events", "expected hits/event"):
        table.add_column(column, overflow="fold", no_wrap=column == "rule")
    for rule in rules.rules:
        spec = rule.spec
        table.add_row(spec.id, str(spec.version),
                      "[magenta]shadow[/]" if spec.mode == "shadow" else spec.mode,
                      spec.severity, ", ".join(spec.event_types), ", ".join(spec.labels),
                      spec.owner, *_expectation_cells(backtest, spec.id))
    console.print(table)
