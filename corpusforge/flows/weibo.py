"""Weibo target-guided conversations (DKRN; spec: shared/specs/weibo.md). The work is in
tasks/weibo; this module only wires it to Prefect. Segmentation runs as Ray tasks on the
flow's own Ray (or the cluster given to the task runner), inside the recipe's whole-corpus
stage; the segmented chunks are cached under the output directory unless the config
names another place, so a rerun does not tag again."""

from __future__ import annotations

from corpusforge.flows.environment import configure_environment

configure_environment()

from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from prefect import flow  # noqa: E402

from corpusforge.flows.pipeline import STATE_DIR, run_corpus  # noqa: E402
from corpusforge.flows.ray_runner import make_task_runner  # noqa: E402
from corpusforge.schemas.weibo import WeiboConfig  # noqa: E402
from corpusforge.tasks.weibo.recipe import WeiboRecipe  # noqa: E402

SEGMENT_CACHE = "weibo-segments"


def with_segment_cache(config: dict[str, Any], out_dir: str) -> WeiboConfig:
    cfg = WeiboConfig.model_validate(config)
    if cfg.segmentation.cache_dir is None:
        cache = str(Path(out_dir) / STATE_DIR / "cache" / SEGMENT_CACHE)
        cfg = cfg.model_copy(update={
            "segmentation": cfg.segmentation.model_copy(update={"cache_dir": cache})})
    return cfg


@flow(name="weibo", task_runner=make_task_runner(), log_prints=True)
def weibo_flow(out_dir: str, config: dict[str, Any] | None = None,
               cache_dir: str | None = None, task_cpus: int = 1,
               progress: bool = False) -> dict[str, Any]:
    """Conversations -> segmented, filtered, split corpus with instances, vocabulary,
    transition graphs and target-guided self-play -> published set."""
    cfg = with_segment_cache(config or {}, out_dir)
    return run_corpus(WeiboRecipe(), cfg, Path(out_dir),
                      cache_dir=Path(cache_dir) if cache_dir else None,
                      task_cpus=task_cpus, progress=progress).to_json()
