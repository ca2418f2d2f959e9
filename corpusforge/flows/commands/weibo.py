"""`corpusforge run weibo`: its registration and the options the config cannot describe."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from corpusforge.flows.corpus_cli import Command, Corpus, resolved


def options(
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
) -> dict[str, Any]:
    return {"input_path": resolved(input), "input_format": format,
            "responses_path": resolved(responses), "strip_spaces": strip_spaces,
            "reference_keywords_path": resolved(reference_keywords),
            "segmentation": {"segmenter": segmenter},
            "synthesis": {"conversations": synthesize, "max_turns": max_turns,
                          "llm_agent": llm_agent or None, "llm_user": llm_user or None}}


def print_summary(result: dict[str, Any]) -> None:
    report = json.loads((Path(result["path"]) / "report.json").read_text("utf-8"))
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


CORPUS = Corpus(
    description=("Weibo target-guided conversations: DKRN corpus construction and "
                 "self-play (AAAI 2020)"),
    run=Command(
        recipe="corpusforge.tasks.weibo.recipe:WeiboRecipe", options=options,
        covers=("input_path", "input_format", "responses_path", "strip_spaces",
                "reference_keywords_path"),
        report=print_summary,
        help="Segment, select keywords, filter and split conversations; build turn "
             "instances, vocabulary and transition graphs; play target-guided "
             "conversations; publish."),
)
