"""Settings every corpus config shares. A corpus config subclasses CorpusConfig, adds its own
typed fields and a literal `corpus` name.

Engines are held by role. `engine` is the default role (DEFAULT_ROLE, "generator"): it
serves every step, unless `engines` names another engine for the step's role (e.g.
{"judge": {"kind": "openai", ...}} gives the judging steps a separate, stronger model).
Both enter the fingerprint, so a run with another judge is another derivation."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator

from corpusforge.schemas.base import StrictModel
from corpusforge.schemas.engine_io import EngineConfig, LlamaCppEngineConfig

DEFAULT_ROLE = "generator"


class CorpusConfig(StrictModel):
    # The engine roles a corpus's steps may name; the CLI offers --<role>-engine, -model
    # and -base-url for each one besides the default, and `engines` takes no other.
    engine_roles: ClassVar[tuple[str, ...]] = (DEFAULT_ROLE,)

    corpus: str
    engine: EngineConfig = Field(default_factory=LlamaCppEngineConfig)
    # Further roles, by name; a role not named here is served by `engine`.
    engines: dict[str, EngineConfig] = Field(default_factory=dict)
    seed: int = 0
    limit: int | None = Field(default=None, ge=1, description="use only the first N inputs")
    # Inputs per shard, the unit of scheduling and resume. None: about 16 shards, at most
    # 64 rows each (tasks/plan.py), so small runs still use every worker.
    shard_size: int | None = Field(default=None, ge=1)
    max_parse_attempts: int = Field(default=3, ge=1)
    on_bad_rows: Literal["fail", "quarantine"] = "fail"
    # The publish gate: more rejected than this share of inputs stops the publish.
    max_reject_fraction: float = Field(default=1.0, ge=0.0, le=1.0)
    dataset_name: str | None = None  # defaults to the corpus name

    @field_validator("engines")
    @classmethod
    def _known_roles(cls, engines: dict[str, Any]) -> dict[str, Any]:
        if DEFAULT_ROLE in engines:
            raise ValueError(f"the {DEFAULT_ROLE!r} role is the `engine` block; "
                             f"`engines` holds the other roles")
        unknown = sorted(set(engines) - set(cls.engine_roles))
        if unknown:
            raise ValueError(f"no engine role {unknown} in this corpus (roles: "
                             f"{', '.join(cls.engine_roles)})")
        return engines

    def engine_for(self, role: str) -> EngineConfig:
        """The engine config that serves `role`."""
        return self.engines.get(role, self.engine)

    def role_engines(self, roles: Iterable[str]) -> dict[str, EngineConfig]:
        """role -> engine config for the roles a run's steps use (sorted, default first)."""
        names = sorted(set(roles), key=lambda r: (r != DEFAULT_ROLE, r))
        return {role: self.engine_for(role) for role in names}
