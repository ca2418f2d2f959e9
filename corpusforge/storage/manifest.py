"""manifest.json: everything needed to say what a dataset version is and how it was made.

The manifest is the machine-readable record (the card is the human one, rendered from the
same facts). It is written into the version directory before the version becomes visible;
`publish_dataset` fills in `version` and `files` (sha256 and row counts of what it wrote).
Secrets never enter it: the config is passed through `redact_config` on validation.
"""

from __future__ import annotations

import re
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

import corpusforge
from corpusforge.storage.atomic import write_json_atomic

MANIFEST_VERSION = 1
MANIFEST_FILE = "manifest.json"

# `api_key`, `hf_token`, `password`... but not `api_key_env` (the name of a variable) nor
# `max_tokens` (a count).
_SECRET_KEY = re.compile(
    r"(^|_)(api_?key|token|password|passwd|secret|authorization|credentials?)$", re.I)
REDACTED = "<redacted>"


def redact_config(value: Any) -> Any:
    """Replace the values of credential-like keys at every depth (the key stays, so the
    reader sees that one was set)."""
    if isinstance(value, dict):
        return {k: (REDACTED if _SECRET_KEY.search(str(k)) and v not in (None, "")
                    else redact_config(v)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_config(v) for v in value]
    return value


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FingerprintInfo(_Model):
    hash: str
    algorithm: str
    scheme_version: int


class CodeVersion(_Model):
    package_version: str
    git_commit: str | None = None
    git_dirty: bool | None = None


class EngineInfo(_Model):
    """One engine as used by the run: `kind` from its config, `model` as the engine reported
    it (a resolved file name or server model id), `role` when a corpus uses several."""

    kind: str
    model: str
    role: str = "default"
    details: dict[str, Any] = {}


class Counts(_Model):
    """`read == published + quarantined` for the primary table; `tables` has every
    published table's row count."""

    read: int
    published: int
    quarantined: int
    quarantined_by_kind: dict[str, int] = {}
    quarantined_by_step: dict[str, int] = {}
    tables: dict[str, int] = {}

    @property
    def reconciles(self) -> bool:
        return (self.read == self.published + self.quarantined
                and sum(self.quarantined_by_kind.values()) in (0, self.quarantined))


class TokenUsage(_Model):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    requests: int = 0
    cached_requests: int = 0


class FileEntry(_Model):
    sha256: str
    bytes: int
    rows: int | None = None  # Parquet files only
    table: str | None = None
    split: str | None = None


class Manifest(_Model):
    manifest_version: int = MANIFEST_VERSION
    dataset: str
    version: str = ""  # set by publish_dataset
    created_at: str = Field(default_factory=lambda: utc_now_iso())
    config: dict[str, Any]
    fingerprint: FingerprintInfo
    derivation_key: str
    code: CodeVersion = Field(default_factory=lambda: code_version())
    engines: list[EngineInfo] = []
    prompt_templates: dict[str, str] = {}  # template name -> content hash
    schema_version: int
    counts: Counts
    # per stage, in order: name, kind, key and its own counts (tasks/collect.py)
    stages: list[dict[str, Any]] = []
    validation: dict[str, Any] = {}  # tasks.validate summary
    timings_s: dict[str, float] = {}  # stage -> wall seconds
    token_usage: TokenUsage = Field(default_factory=TokenUsage)
    files: dict[str, FileEntry] = {}  # path relative to the version dir -> entry

    @classmethod
    def build(cls, *, config: dict[str, Any], **fields: Any) -> Manifest:
        """Keyword constructor (kept for callers); redaction happens in validation anyway."""
        return cls(config=config, **fields)

    @field_validator("config")
    @classmethod
    def _no_secrets(cls, config: dict[str, Any]) -> dict[str, Any]:
        """Redacted on the way in, however the manifest is built."""
        return redact_config(config)

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def utc_now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def code_version(source: Path | None = None) -> CodeVersion:
    """Package version plus the git commit of the source tree when it is a checkout (two
    git calls, a few ms, limited to the package directory; None when git or the checkout
    is missing, e.g. an installed wheel)."""
    src = Path(source) if source is not None else Path(corpusforge.__file__).resolve().parent
    commit = _git(src, "rev-parse", "HEAD")
    dirty = None
    if commit is not None:
        status = _git(src, "status", "--porcelain", "--untracked-files=no", "--", ".")
        dirty = bool(status) if status is not None else None
    return CodeVersion(package_version=corpusforge.__version__, git_commit=commit,
                       git_dirty=dirty)


def _git(cwd: Path, *args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                             timeout=5, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def write_manifest(version_dir: Path, manifest: Manifest | dict[str, Any]) -> Path:
    """Write (atomically) `<version_dir>/manifest.json`; a dict is validated first."""
    model = manifest if isinstance(manifest, Manifest) else Manifest.model_validate(manifest)
    path = Path(version_dir) / MANIFEST_FILE
    write_json_atomic(path, model.to_json())
    return path


def read_manifest(version_dir: Path) -> Manifest:
    return Manifest.model_validate_json((Path(version_dir) / MANIFEST_FILE).read_bytes())
