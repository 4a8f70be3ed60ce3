"""What every `codekiln` command shares: how errors and warnings are printed, and `--option key=value` parsing.

options = parse_options(["max_tokens=1024", "extra_body.top_k=20", "preset.yaml"])
run(app)        # a command module's `python -m` entry: errors print as `error: ...` + `hint: ...`
"""

from __future__ import annotations

import _thread
import errno
import logging
import signal
import sys
import threading
import warnings
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer
from pydantic import ValidationError
from rich.table import Table

from codekiln.core import interrupt
from codekiln.core.config import merge_sources
from codekiln.core.errors import CodekilnError, ConfigError
from codekiln.core.executor import EXECUTORS, ExecutorConfig

OPTION_HINT = (
    "write --option key=value (e.g. --option max_tokens=1024; dotted keys nest), or give a YAML file of them"
)
# `-o` is --out in every command. These commands took it for --option up to 0.1: there the old
# `-o KEY=VALUE` (or `-o FILE.yaml`) still works, for one release, with a warning saying what to type.
OLD_O_FOR_OPTION = {
    "codekiln.cli.sri.evaluate": "sri eval",
    "codekiln.cli.models.eval_formats": "formats eval",
    "codekiln.cli.models.chat": "model chat",
}


def parse_options(pairs: list[str] | None) -> dict[str, Any]:
    """Backend options from `key=value` pairs (values read as YAML; `a.b=1` nests) and YAML files,
    later ones winning. A pair without `=` that names no file, or with no key, is a ConfigError."""
    for pair in pairs or []:
        key, eq, _ = pair.partition("=")
        if (not eq and not Path(pair).is_file()) or (eq and not key.strip()):
            raise ConfigError(f"bad option {pair!r}", hint=OPTION_HINT)
    return merge_sources(list(pairs or []))


def flagged_options(options: dict[str, Any], flags: dict[str, str]) -> dict[str, Any]:
    """`options`, unless one sets what a flag of the command sets (`flags`: option key -> flag): then a
    ConfigError naming both. Neither wins silently (`--option temperature=0.2` used to override
    `--temperature` in rollout): each setting has one spelling, the flag."""
    for key, flag in flags.items():
        if key in options:
            value = options[key]
            raise ConfigError(
                f"--option {key}={value} sets what {flag} sets",
                hint=f"drop the option and write {flag} {value}",
            )
    return options


EXECUTOR_HELP = "where units run: local (this machine) or ray (a Ray cluster; the ray extra)"
RAY_ADDRESS_HELP = "the Ray cluster's HOST:PORT (default: start Ray on this machine)"


def executor_config(executor: str, ray_address: str | None) -> ExecutorConfig:
    """`--executor` and `--ray-address` as an `ExecutorConfig`."""
    if executor not in EXECUTORS.names():
        raise ConfigError(f"unknown executor {executor!r}", hint=f"--executor {'|'.join(EXECUTORS.names())}")
    if ray_address and executor != "ray":
        raise ConfigError("--ray-address is for the ray executor", hint="add --executor ray")
    return ExecutorConfig(kind=executor, address=ray_address or None)


def nodes_table(per_node: Counter[str], what: str) -> Table:
    """The per-node summary of a distributed run: `what` each node finished ("lost": every try failed)."""
    table = Table(title=f"{what} per node", title_justify="left")
    table.add_column("node")
    table.add_column(what, justify="right")
    for node, n in sorted(per_node.items(), key=lambda kv: -kv[1]):
        table.add_row(node, str(n))
    return table


def say(text: str, color: str | None = None) -> None:
    """One line on stderr as it is *now*: while a progress display runs, rich has put its proxy there,
    which prints the line above the bar (`typer.echo(err=True)` keeps the stream it first saw, so the
    line went onto the end of the bar's line)."""
    typer.secho(text, fg=color, file=sys.stderr)


def print_error(err: CodekilnError) -> None:
    """`error: MESSAGE` and `  hint: HINT` on stderr: how every command reports a failure."""
    say(f"error: {err.message}", "red")
    if err.hint:
        say(f"  hint: {err.hint}")


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: Any = None,
    line: str | None = None,
) -> None:
    """codekiln's own warnings as `warning: MESSAGE` on stderr; others as Python prints them."""
    if interrupt.requested():  # from work abandoned at Ctrl-C: not worth a line
        return
    if category.__module__.startswith("codekiln."):
        say(f"warning: {message}", "yellow")
    else:
        sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))


# What the machine refused, or a path of the wrong kind: told as an error, not a traceback.
_SYSTEM_ERRNOS = {
    errno.ENOSPC,
    errno.EDQUOT,
    errno.EROFS,
    errno.EACCES,
    errno.EPERM,
    errno.EMFILE,
    errno.EEXIST,
    errno.ENOTDIR,
    errno.EISDIR,
}


def config_error(err: ValidationError) -> ConfigError:
    """A config model's ValidationError as the flags at fault: `RolloutConfig.n = 0` is `--n 0`."""
    bad = []
    for e in err.errors()[:4]:
        flag = "--" + "-".join(str(part).replace("_", "-") for part in e["loc"])
        bad.append(f"{flag} {e.get('input')!r}: {e['msg']}")
    return ConfigError(
        f"bad value for {'; '.join(bad)}", hint="see the command's --help for what each flag takes"
    )


def system_error(err: OSError) -> ConfigError:
    """A path of the wrong kind (a file where a directory is needed, or the reverse), or a disk full,
    read-only or forbidden met mid-run: what failed, and that a rerun resumes."""
    path = err.filename2 or err.filename
    if err.errno in (errno.EEXIST, errno.ENOTDIR):
        return ConfigError(
            f"{path} is a file where a directory is needed", hint="give --out a directory path"
        )
    if err.errno == errno.EISDIR:
        return ConfigError(f"{path} is a directory where a file is needed", hint="give --out a file path")
    where = f" {err.filename}" if err.filename else ""
    return ConfigError(
        f"cannot write{where}: {err.strerror}",
        hint="free space or choose a writable --out; rerunning the same command resumes (finished work is kept)",
    )


def repeated_option(command: Any, argv: list[str]) -> ConfigError | None:
    """A single-valued option given twice in `argv` (Click keeps the last silently): `rollout -o
    temperature=0.2 --out r1` wrote to r1 and dropped the option, `-o` being --out there."""
    used: dict[str, list[str]] = {}
    for token in argv:
        if token == "--":
            break
        sub = getattr(command, "commands", {}).get(token)
        if sub is not None:
            command, used = sub, {}
            continue
        name = token.split("=", 1)[0]
        for param in getattr(command, "params", []):
            if name in param.opts and not (param.multiple or getattr(param, "is_flag", True) or param.count):
                used.setdefault(param.opts[0], []).append(name)
    for flag, given in used.items():
        if len(given) > 1:
            short = next((g for g in given if not g.startswith("--")), None)
            also = f"; {short} is short for {flag} in this command" if short else ""
            takes_options = any("--option" in param.opts for param in command.params)
            options = ": model options are --option key=value" if flag == "--out" and takes_options else ""
            hint = f"give {flag} once{also}{options}"
            return ConfigError(
                f"{flag} given {len(given)} times ({', '.join(given)}): only the last would count", hint=hint
            )
    return None


def _on_sigint(signum: int, frame: Any) -> None:
    """Ctrl-C: worker threads' sandboxed commands end at once (`core.interrupt`), then the usual
    KeyboardInterrupt unwinds the driver, which has written every finished record already."""
    interrupt.request()
    logging.disable(logging.CRITICAL)  # what worker threads make of their killed commands is noise now
    raise KeyboardInterrupt


_RESENDS: list[threading.Timer] = []
"""Ctrl-Cs `_on_unraisable` is sending again (cancelled once the program is ending as interrupted)."""


def _ending_interrupted() -> None:
    """The program is ending as interrupted: no Ctrl-C still being sent again, nor a further one, may
    break the last message into a traceback."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for again in _RESENDS:
        again.cancel()
    say("interrupted: finished work is saved; rerun the same command to resume", "yellow")


def _on_unraisable(hook: Callable[[Any], Any]) -> Callable[[Any], None]:
    """`sys.unraisablehook` that does not lose a Ctrl-C: a KeyboardInterrupt raised where Python can only
    print and drop it (a generator closed by the garbage collector, joining its pool's threads) is sent
    again a moment later, from a thread, to land in the driver's own code once the finalizer is done
    (sent from here it would be raised inside this hook and dropped too); anything else goes to `hook`."""

    def handle(unraisable: Any) -> None:
        if isinstance(unraisable.exc_value, KeyboardInterrupt) and interrupt.requested():
            again = threading.Timer(0.02, _thread.interrupt_main)
            again.daemon = True
            _RESENDS.append(again)
            again.start()
            return
        hook(unraisable)

    return handle


def old_o_spelling(command: Any, argv: list[str]) -> list[str]:
    """`argv` with the old `-o KEY=VALUE` of the commands in `OLD_O_FOR_OPTION` as `--option KEY=VALUE`,
    each with a deprecation warning; there `-o` with a path is --out (a command without --out takes
    every `-o` as the old spelling)."""
    out: list[str] = []
    tokens = iter(argv)
    for token in tokens:
        if token == "--":
            return [*out, token, *tokens]
        command = getattr(command, "commands", {}).get(token, command)
        callback = getattr(command, "callback", None)
        where = OLD_O_FOR_OPTION.get(f"{callback.__module__}.{callback.__qualname__}") if callback else None
        value = next(tokens, None) if where and token == "-o" else None
        if value is None:
            out.append(token)
            continue
        has_out = any("--out" in param.opts for param in command.params)
        if has_out and "=" not in value and not value.endswith((".yaml", ".yml")):
            out += [token, value]  # a path: --out
            continue
        say(
            f"warning: `-o {value}` is the old spelling of --option in `{where}` (-o means --out in every "
            f"command now; the old spelling goes in the next release): write --option {value}",
            "yellow",
        )
        out += ["--option", value]
    return out


def run(app: Callable[[], Any]) -> None:
    """Run a Typer app as a program: codekiln errors print their message and hint and exit 1, without
    a traceback; so do a flag value its config model refuses and a full or read-only disk; codekiln
    warnings print as one line."""
    warnings.showwarning = _show_warning
    if isinstance(app, typer.Typer):
        sys.argv[1:] = old_o_spelling(typer.main.get_command(app), sys.argv[1:])
        if err := repeated_option(typer.main.get_command(app), sys.argv[1:]):
            print_error(err)
            sys.exit(1)
    before = signal.getsignal(signal.SIGINT)
    # Not when Ctrl-C is ignored or handled by someone else, nor off the main thread (where it cannot be)
    ours = before is signal.default_int_handler and threading.current_thread() is threading.main_thread()
    unraisable = sys.unraisablehook
    if ours:
        signal.signal(signal.SIGINT, _on_sigint)
        sys.unraisablehook = _on_unraisable(unraisable)
    try:
        _run(app)
    finally:
        if ours:  # an embedding process (a test run) gets its Ctrl-C back
            for again in _RESENDS:
                again.cancel()
            signal.signal(signal.SIGINT, before)
            sys.unraisablehook = unraisable


def _run(app: Callable[[], Any]) -> None:
    """`run`'s body: the app, its failures printed as `error:` + `hint:`."""
    try:
        app()
    except CodekilnError as err:
        print_error(err)
        sys.exit(1)
    except KeyboardInterrupt:  # a plain callable's (Typer turns it into exit 130 itself)
        _ending_interrupted()
        sys.exit(130)
    except SystemExit as stop:
        swallowed = stop.code in (0, None) and interrupt.requested()  # a Ctrl-C that something dropped
        if stop.code == 130 or swallowed:  # Ctrl-C (Typer's exit 130): say that nothing finished is lost
            _ending_interrupted()
        if swallowed:
            sys.exit(130)
        raise
    except ValidationError as err:
        if not err.title.endswith("Config"):
            raise
        print_error(config_error(err))
        sys.exit(1)
    except OSError as err:
        if err.errno not in _SYSTEM_ERRNOS:
            raise
        print_error(system_error(err))
        sys.exit(1)
    if interrupt.requested():  # the app returned although Ctrl-C was pressed: it ends as interrupted
        _ending_interrupted()
        sys.exit(130)
