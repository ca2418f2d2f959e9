"""A corpus's registration and the commands generated from it.

A corpus registers a `CORPUS = Corpus(...)` in its module (listed in corpusforge/registry.py):
its description, the recipe behind `run <name>` (and `eval <name>`), and only what the
platform cannot derive: extra options (a function of typed Typer parameters returning a
config overlay, e.g. `--input` resolved to an absolute `input_path`), a report printed after
publishing, further commands. Everything else is generated from the recipe's config model:
- the shared options of every run (cli_common.RunOptions) and `--engine`;
- one option per top-level scalar field of the config (`--min-count` for `min_count`,
  typed from the annotation, help from the field's description), unless an extra covers it;
- `--<role>-engine/--<role>-model/--<role>-base-url` for each engine role besides the
  default (CorpusConfig.engine_roles), which set `engines.<role>`;
- a preflight that validates the config, reads the inputs and checks the step contract
  (roles, operations) before Prefect and Ray start.
The command runs the generated flow `<recipe name>_flow` of flows/corpora.py.
"""

from __future__ import annotations

import importlib
import inspect
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin

import typer

from corpusforge.flows.cli_common import EngineAsk, EngineKind, RunOptions, run_command
from corpusforge.schemas.corpus import DEFAULT_ROLE, CorpusConfig

FLOWS_MODULE = "corpusforge.flows.corpora"
SCALARS = (bool, int, float, str)


@dataclass(frozen=True)
class Command:
    """`run <corpus>` or `eval <corpus>`: a recipe ("module:Class") and its extras."""

    recipe: str
    help: str = ""
    options: Callable[..., dict[str, Any]] | None = None  # extra options -> config overlay
    covers: tuple[str, ...] = ()  # config fields the extra options set (not generated)
    report: Callable[[dict[str, Any]], None] | None = None  # after publishing: the result

    def recipe_class(self) -> type[Any]:
        module, _, attr = self.recipe.partition(":")
        return getattr(importlib.import_module(module), attr)


@dataclass(frozen=True)
class Corpus:
    description: str
    run: Command
    eval: Command | None = None
    # Further commands: called with (app, run_app, eval_app).
    register: Callable[[typer.Typer, typer.Typer, typer.Typer], None] | None = None


def load_corpus(module: str) -> Corpus:
    corpus = getattr(importlib.import_module(module), "CORPUS", None)
    if not isinstance(corpus, Corpus):
        raise TypeError(f"{module} has no `CORPUS = Corpus(...)` registration")
    return corpus


def flow_attr(recipe_name: str) -> str:
    return f"{FLOWS_MODULE}:{recipe_name}_flow"


def make_command(command: Command) -> Callable[..., None]:
    """The Typer command for `command` (shared options added by `run_command`)."""
    recipe_cls = command.recipe_class()
    config_model: type[CorpusConfig] = recipe_cls.config_model
    extras = _own_params(command.options) if command.options else {}
    fields = generated_fields(config_model, set(command.covers) | set(extras))
    roles = [r for r in config_model.engine_roles if r != DEFAULT_ROLE]
    params = [*extras.values(), *fields.values(), *_role_params(roles),
              inspect.Parameter("engine", inspect.Parameter.KEYWORD_ONLY, default=None,
                                annotation=EngineKind)]
    default_model = config_model.model_fields["engine"].get_default(call_default_factory=True)

    def body(opts: RunOptions, **values: Any) -> None:
        extra = command.options(**{n: values.pop(n) for n in extras}) \
            if command.options else {}
        asks = {role: EngineAsk(values.pop(f"{role}_engine"), values.pop(f"{role}_model"),
                                values.pop(f"{role}_base_url")) for role in roles}
        engine = opts.engine(values.pop("engine"), getattr(default_model, "model", None))
        cfg = opts.build_config(engine=engine, **{n: values.pop(n) for n in fields})
        for role, ask in asks.items():
            if ask.kind or ask.model or ask.base_url:
                cfg.setdefault("engines", {})[role] = ask.resolve(
                    cfg.get("engines", {}).get(role))
        merge(cfg, extra)
        result = opts.run(flow_attr(recipe_cls.name), cfg,
                          preflight=lambda c: preflight(recipe_cls, c))
        if command.report is not None:
            command.report(result)

    body.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [inspect.Parameter("opts", inspect.Parameter.POSITIONAL_OR_KEYWORD,
                           annotation=RunOptions),
         *(p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in params)])
    body.__annotations__ = {"opts": RunOptions, **{p.name: p.annotation for p in params}}
    body.__doc__ = command.help or (recipe_cls.summary or recipe_cls.pretty_name)
    body.__name__ = body.__qualname__ = f"run_{recipe_cls.name}"
    return run_command(body)


def _own_params(fn: Callable[..., Any]) -> dict[str, inspect.Parameter]:
    """fn's parameters with their annotations resolved (modules use postponed ones)."""
    hints = typing.get_type_hints(fn, include_extras=True)
    return {name: p.replace(annotation=hints[name])
            for name, p in inspect.signature(fn).parameters.items()}


def generated_fields(model: type[CorpusConfig],
                     covered: set[str]) -> dict[str, inspect.Parameter]:
    """A --option per top-level scalar field of the corpus's own config (None: not given,
    the config file or the field's default applies)."""
    out = {}
    for name, info in model.model_fields.items():
        if name in CorpusConfig.model_fields or name in covered:
            continue
        kind = _scalar(info.annotation)
        if kind is None:
            continue
        default = info.get_default(call_default_factory=True)
        shown = "" if info.is_required() else f" (default {default})"
        help_text = (info.description or name.replace("_", " ")) + shown
        flag = "--" + name.replace("_", "-")
        decls = [f"{flag}/--no-{name.replace('_', '-')}"] if kind is bool else [flag]
        out[name] = inspect.Parameter(
            name, inspect.Parameter.KEYWORD_ONLY, default=None,
            annotation=Annotated[kind | None, typer.Option(*decls, help=help_text)])
    return out


def _scalar(annotation: Any) -> type | None:
    """bool/int/float/str (a Literal of strings counts as str; Optional is unwrapped), or
    None for anything the command line should not set field by field."""
    args = get_args(annotation)
    if get_origin(annotation) in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        return _scalar(inner[0]) if len(inner) == 1 else None
    if get_origin(annotation) is Literal:
        return str if all(isinstance(a, str) for a in args) else None
    return annotation if annotation in SCALARS else None


def _role_params(roles: list[str]) -> list[inspect.Parameter]:
    out = []
    for role in roles:
        flag = role.replace("_", "-")
        for suffix, help_text in (
                ("engine", f"the {role} role's engine: llamacpp, openai or vllm (default: the "
                           "main engine serves it)"),
                ("model", f"the {role} role's model"),
                ("base_url", f"the {role} role's server URL (openai engine)")):
            out.append(inspect.Parameter(
                f"{role}_{suffix}", inspect.Parameter.KEYWORD_ONLY, default=None,
                annotation=Annotated[str | None, typer.Option(
                    f"--{flag}-{suffix.replace('_', '-')}", help=help_text)]))
    return out


def merge(cfg: dict[str, Any], overlay: dict[str, Any]) -> None:
    """Overlay into cfg, nested dicts merged key by key; None means not given."""
    for key, value in overlay.items():
        if value is None:
            continue
        if isinstance(value, dict) and isinstance(cfg.get(key), dict):
            merge(cfg[key], value)
        elif isinstance(value, dict):
            cfg[key] = {k: v for k, v in value.items() if v is not None}
        else:
            cfg[key] = value


def preflight(recipe_cls: type[Any], config: dict[str, Any]) -> object:
    """Validate the config, read the inputs and check roles and operations, in a second."""
    from corpusforge.tasks.plan import all_steps, check_roles

    recipe = recipe_cls()
    cfg = recipe.config_model.model_validate(config)
    batch = recipe.read_inputs(cfg)
    check_roles(cfg, all_steps(recipe.stages(cfg)))
    return batch


def resolved(path: Path | None) -> str | None:
    """A path option as the config stores it: absolute, so Ray workers find it."""
    return str(path.resolve()) if path is not None else None
