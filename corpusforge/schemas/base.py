"""Base model for every config: typed, strict, immutable, fingerprintable."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from corpusforge.schemas.fingerprint import fingerprint


class StrictModel(BaseModel):
    """Unknown fields are errors: a typo in a config must not silently fall back to a default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    def fingerprint(self) -> dict[str, Any]:
        return fingerprint(self)

    @property
    def fingerprint_hash(self) -> str:
        return self.fingerprint()["hash"]
