"""`corpusforge run weibo`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from corpusforge.flows.cli_common import RunOptions, run_command

DESCRIPTION = ("Weibo target-guided conversations: DKRN corpus construction and "
               "self-play (AAAI 2020)")


def register(run_app: typer.Typer, eval_app: typer.Typer) -> None:
    run_app.command("weibo")(run_weibo)


@run_command
def run_weibo(
    opts: RunOptions,
    input: Annotated[Path, typer.Option(
        "--input", help="conversations: JSONL {id, turns[...]}, the STC post file, or an "
                        "LCCC pair file", exists=True, dir_okay=False)],
    format: Annotated[str, typer.Option(
        "--format", help="jsonl | stc (line-aligned post/response files) | lccc "
                         "(tab-separated, spaced characters)")] = "jsonl",
    responses: Annotated[Path | None, typer.Option(
        help="stc: the response file (default: the post file's name with 'response')")] = None,
    strip_spaces: Annotated[bool | None, typer.Option(
        "--strip-spaces/--keep-spaces",
        help="remove segmentation spaces next to CJK (default: on for stc and lccc)")] = None,
    segmenter: Annotated[str | None, typer.Option(
        help="jieba (default, fast) or thulac (the authors' tagger, slow)")] = None,
    min_count: Annotated[int | None, typer.Option(
        help="keyword count threshold (paper: 2000 on 916K conversations; the 16.6K "
             "fixture needs about 10)")] = None,
    min_keywords: Annotated[int | None, typer.Option(
        help="keep conversations with this many distinct keywords (default 8)")] = None,
    reference_keywords: Annotated[Path | None, typer.Option(
        help="released candi_keyword.txt to compare the candidate list with",
        exists=True, dir_okay=False)] = None,
    synthesize: Annotated[int | None, typer.Option(
        help="target-guided self-play conversations (default 200)")] = None,
    max_turns: Annotated[int | None, typer.Option(help="turn limit (default 8)")] = None,
    llm_agent: Annotated[bool, typer.Option(
        "--llm-agent/--no-llm-agent", help="extension: LLM-written agent turns")] = False,
    llm_user: Annotated[bool, typer.Option(
        "--llm-user/--no-llm-user", help="extension: LLM user simulator turns")] = False,
    engine: Annotated[str | None, typer.Option(
        "--engine", help="for the extensions: llamacpp (default profile gemma3-270m) or "
                         "openai")] = None,
) -> None:
    """Segment, select keywords, filter and split conversations; build turn instances,
    vocabulary and transition graphs; play target-guided conversations; publish."""
    cfg = opts.build_config(
        engine=opts.engine_if_asked(engine, default_model="gemma3-270m"),
        input_path=str(input.resolve()), input_format=format,
        responses_path=str(responses.resolve()) if responses else None,
        strip_spaces=strip_spaces, min_count=min_count, min_keywords=min_keywords,
        reference_keywords_path=str(reference_keywords.resolve()) if reference_keywords
        else None)
    if segmenter:
        cfg["segmentation"] = {**cfg.get("segmentation", {}), "segmenter": segmenter}
    synthesis = {"conversations": synthesize, "max_turns": max_turns,
                 "llm_agent": llm_agent or None, "llm_user": llm_user or None}
    cfg["synthesis"] = {**cfg.get("synthesis", {}),
                        **{k: v for k, v in synthesis.items() if v is not None}}
    result = opts.run("corpusforge.flows.weibo:weibo_flow", cfg, preflight=_read_inputs)
    print_summary(json.loads((Path(result["path"]) / "report.json").read_text("utf-8")))


def _read_inputs(config: dict[str, Any]) -> object:
    """Validate the config and parse the file before Prefect and Ray start."""
    from corpusforge.schemas.weibo import WeiboConfig
    from corpusforge.tasks.weibo.ingest import read_conversations

    return read_conversations(WeiboConfig.model_validate(config))


def print_summary(report: dict[str, Any]) -> None:
    conv, syn = report["conversations"], report["synthesis"]
    guided = syn["target_guided_retrieval"]
    print(f"conversations kept {conv['kept']} {json.dumps(conv['by_split'])}, filtered "
          f"{json.dumps(conv['filtered'])}, bad lines {conv['bad_lines']}")
    print(f"candidate keywords {report['keywords']['candidates']}; instances "
          f"{json.dumps(report['instances']['by_split'])}")
    if report["reference_overlap"]:
        ov = report["reference_overlap"]
        print(f"overlap with the released list: {ov['shared']} of {ov['ours']} "
              f"(reference {ov['reference']})")
    rate = guided["success_rate"]
    print(f"self-play: success {'—' if rate is None else f'{100 * rate:.1f}%'} of "
          f"{guided['conversations']}, avg turns (successful) "
          f"{guided['avg_turns_successful']}, smoothness proxy "
          f"{guided['smoothness_proxy_mean']}")
