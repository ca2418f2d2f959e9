"""The one list of corpora. A corpus adds one line here (name -> the module holding its
`CORPUS` registration, flows/commands/<name>.py for the shipped ones); from that line the
platform generates its Prefect flows (flows/corpora.py), its `run`/`eval` commands
(flows/corpus_cli.py), the deployments check and wiring test, and the import contract
(tests/test_import_contract.py) that keeps it apart from the platform and other corpora.

Corpora outside the package (a plugin, a test corpus) register the same way through
$CORPUSFORGE_CORPORA: comma-separated `name=module` entries, read by every process of a
run (Ray workers and Prefect's worker inherit the environment).

Names only, no imports: `corpusforge --help` and platform modules must not load corpus code.
"""

from __future__ import annotations

import os

CORPORA: dict[str, str] = {
    "trace": "corpusforge.flows.commands.trace",
    "apps": "corpusforge.flows.commands.apps",
    "ada": "corpusforge.flows.commands.ada",
    "weibo": "corpusforge.flows.commands.weibo",
}
ENV = "CORPUSFORGE_CORPORA"


def registered() -> dict[str, str]:
    """name -> registration module: the shipped corpora, then those of $CORPUSFORGE_CORPORA."""
    out = dict(CORPORA)
    for entry in filter(None, (e.strip() for e in os.environ.get(ENV, "").split(","))):
        name, sep, module = entry.partition("=")
        if not sep or not name.strip() or not module.strip():
            raise ValueError(f"${ENV}: {entry!r} is not name=module")
        out[name.strip()] = module.strip()
    return out
