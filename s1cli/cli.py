"""The ``s1`` command: registers one command module per step and turns errors into exit codes.

User errors (S1Error) print one red line and exit 2; an interrupt exits 130 (SIGINT) or 143
(SIGTERM) after cleanup; anything unexpected exits 1, with the traceback only under --verbose.
"""

from __future__ import annotations

import importlib
import os
import signal
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer
from rich.text import Text

from . import __version__
from .commands.ui import Settings, error_line
from .errors import Notice, S1Error
from .hardware import apply_threads, choose_threads

# Commands that run torch on the CPU, whose thread count is chosen before they start.
TORCH_COMMANDS = {"generate", "bench", "sft", "tiny"}
# One module per subcommand, each exposing register(app); a command is listed once it works.
COMMAND_MODULES = ("tiny", "convert", "join", "data", "schema", "collect", "grade", "classify_msc", "select", "sft",
                   "generate", "bench")


class Terminated(BaseException):
    """SIGTERM, raised as an exception so ``finally`` blocks (temp-file cleanup) run."""


def _on_sigterm(signum: int, frame: Any) -> None:
    raise Terminated()


class S1Group(typer.core.TyperGroup):
    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            _plain_metavars(command, ctx)
        return command

    def get_params(self, ctx: Any) -> list[Any]:
        params = super().get_params(ctx)
        for param in params:
            _plain_metavar(param)
        return params

    def invoke(self, ctx: typer.Context) -> Any:
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
        try:
            with _notices_on_stderr(ctx):
                return super().invoke(ctx)
        except S1Error as exc:
            error_line(_settings(ctx).console, str(exc))
            raise typer.Exit(exc.exit_code) from None
        except (KeyboardInterrupt, Terminated) as exc:
            message = "interrupted; finished work is kept, rerun the same command to resume"
            error_line(_settings(ctx).console, message)
            raise typer.Exit(143 if isinstance(exc, Terminated) else 130) from None
        except BrokenPipeError:
            # The reader of our stdout went away (e.g. `| head`): not an error of ours.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            raise typer.Exit(0) from None
        except OSError as exc:
            # The file system refused (permissions, a missing folder, a full disk): the user
            # can fix it, so it is one line like any input error.
            where = f"{exc.filename}: " if exc.filename else ""
            error_line(_settings(ctx).console, f"{where}{exc.strerror or exc}")
            raise typer.Exit(2) from None
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise  # usage errors and exits: typer prints and exits as usual
        except Exception as exc:
            settings = _settings(ctx)
            if settings.verbose:
                raise
            message = f"unexpected {type(exc).__name__}: {exc} (rerun with --verbose for the traceback)"
            error_line(settings.console, message)
            raise typer.Exit(1) from None
        finally:
            signal.signal(signal.SIGTERM, previous)


@contextmanager
def _notices_on_stderr(ctx: typer.Context) -> Iterator[None]:
    """The library's ``Notice`` warnings as one ``note:`` line each on stderr, each said once per run
    (a table read twice says it once), silenced by --quiet; other warnings go where they went."""
    said: set[str] = set()
    with warnings.catch_warnings():
        default = warnings.showwarning

        def show(message: Any, category: type[Warning], *args: Any, **kwargs: Any) -> None:
            if not issubclass(category, Notice):
                default(message, category, *args, **kwargs)
            elif str(message) not in said:
                said.add(str(message))
                settings = _settings(ctx)  # read when said: the global options are parsed after invoke starts
                if not settings.quiet:
                    settings.console.print(Text(f"note: {message}", style="yellow"), soft_wrap=True)

        warnings.simplefilter("always", Notice)
        warnings.showwarning = show
        yield


def _plain_metavars(command: Any, ctx: Any) -> None:
    """``_plain_metavar`` for a command's options and help option, and its subcommands' (``s1 data``)."""
    for param in [*command.params, command.get_help_option(ctx)]:
        _plain_metavar(param)
    for sub in getattr(command, "commands", {}).values():
        _plain_metavars(sub, ctx)


def _plain_metavar(param: Any) -> None:
    """Help that reads as a man page: a flag takes no value, so it shows none (typer would print
    ``<bool>``); an option with fixed choices declares them in its own metavar."""
    # By attribute: typer builds its commands with its own copy of click, not the click package.
    if param is not None and getattr(param, "param_type_name", "") == "option" and getattr(param, "is_flag", False) \
            and param.metavar is None:
        param.metavar = ""


def _settings(ctx: typer.Context) -> Settings:
    return ctx.obj if isinstance(ctx.obj, Settings) else Settings()


def _version(value: bool) -> None:
    if value:
        typer.echo(f"s1 {__version__}")
        raise typer.Exit()


def build_app() -> typer.Typer:
    app = typer.Typer(
        cls=S1Group,
        name="s1",
        help="s1: build reasoning datasets, fine-tune on them, and control how long models think "
        "(s1: Simple test-time scaling, arXiv 2501.19393).\n\n"
        "Every command reads and writes tables (.jsonl, .jsonl.gz, .parquet, .csv, .json; - is JSONL "
        "on stdin/stdout), so steps pipe and resume.",
        epilog="Examples:\n\n"
        "  s1 tiny models/tiny\n\n"
        "  s1 data export math500 math500.parquet\n\n"
        "  s1 convert math500.parquet - | s1 convert - math500.csv",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        rich_markup_mode="markdown",
        context_settings={"help_option_names": ["-h", "--help"]},
    )

    @app.callback()
    def main_options(
        ctx: typer.Context,
        quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing but errors and requested output."),
        verbose: bool = typer.Option(False, "--verbose", "-v",
                                     help="More detail, and tracebacks for unexpected errors."),
        threads: int = typer.Option(
            None, "--threads", metavar="N",
            help="CPU threads for torch (default: the usable cores less those busy with other work)."),
        version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                     help="Print the version and exit."),
    ) -> None:
        ctx.obj = Settings(quiet=quiet, verbose=verbose)
        if threads is not None and threads < 1:
            raise typer.BadParameter(f"must be at least 1, got {threads}", param_hint="--threads")
        if ctx.invoked_subcommand in TORCH_COMMANDS:
            chosen = choose_threads(threads)
            apply_threads(chosen)
            if verbose:
                ctx.obj.console.print(f"threads: {chosen.count} ({chosen.reason})")
        if not verbose:
            # Libraries' own progress bars and advisories would interleave with ours.
            os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
            os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
            os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

    for module_name in COMMAND_MODULES:
        importlib.import_module(f"s1cli.commands.{module_name}").register(app)
    return app


app = build_app()


def main() -> None:
    app(prog_name="s1")


if __name__ == "__main__":
    main()
