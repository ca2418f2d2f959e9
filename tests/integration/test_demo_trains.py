"""Issue 13 acceptance: `make demo` publishes a dataset whose training table a trainer takes
as it is. The demo's ADA command runs for real (CLI, Prefect server, Ray, validation,
publish); its `training` table is loaded with `datasets` and a TRL SFTTrainer takes two
optimizer steps on it with a real small causal LM: SmolLM2-135M-Instruct, loaded by
transformers from the packaged GGUF (Q4_1, dequantised to float32), so no hub is needed.
The pairs are the paper's T5-style ones: prompt = sentence + category prior, completion =
the syntax target."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import pytest

from tests.integration.support import BIN, REPO, cli_env, run

pytestmark = pytest.mark.integration

ROWS = 32  # a few dozen rows: enough for two steps of BATCH, small enough for 2 cores
BATCH = 2
MAX_LENGTH = 160  # tokens; rows whose prompt + completion do not fit are passed over


def demo_input() -> str:
    """The demo's ADA command, read from the Makefile so the test runs what `make demo` runs."""
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    assert ".venv/bin/corpusforge run ada --out $(OUT) --input $(DEMO_INPUT)" in makefile
    match = re.search(r"^DEMO_INPUT \?= (\S+)$", makefile, re.MULTILINE)
    assert match, "Makefile has no DEMO_INPUT"
    return match.group(1)


def test_demo_publishes_training_table_a_trainer_takes(
        prefect_server: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    env = cli_env(prefect_server, tmp_path / "home")
    proc = run([str(BIN / "corpusforge"), "run", "ada", "--out", str(out),
                "--input", demo_input()], env, timeout=600)
    version = Path(next(line.split(": ", 1)[1] for line in proc.stdout.splitlines()
                        if line.startswith("published: ")))
    assert version.parent == out / "ada"

    import datasets
    import polars as pl

    manifest = json.loads((version / "manifest.json").read_text(encoding="utf-8"))
    sentences = pl.read_parquet(version / "sentences" / "*.parquet")
    assert sentences.height == manifest["counts"]["tables"]["sentences"] > 0
    training = datasets.load_dataset(str(version), "training", split="train")
    assert training.num_rows == manifest["counts"]["tables"]["training"] > 0
    assert {"example_id", "origin", "category_prior_input", "syntax_target"} \
        <= set(training.column_names)
    for row in training:
        assert row["category_prior_input"].strip() and row["syntax_target"].strip(), row

    history = train_two_steps(training, tmp_path / "trainer")
    losses = [entry["loss"] for entry in history if "loss" in entry]
    assert len(losses) == 2, history
    assert all(math.isfinite(loss) and loss > 0 for loss in losses), losses


def train_two_steps(training: Any, output_dir: Path) -> list[dict[str, Any]]:
    """Two SFTTrainer steps on the table's T5-style pairs as prompt/completion rows
    (prompt = sentence + category prior, completion = the syntax target); returns the log."""
    import datasets
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig
    from trl import SFTConfig, SFTTrainer

    from corpusforge.tasks.engines.models import PROFILES

    gguf = PROFILES["smollm2"].path()
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    rows = []
    for row in training:
        prompt, completion = row["category_prior_input"], row["syntax_target"]
        if len(tokenizer(prompt + completion)["input_ids"]) < MAX_LENGTH:
            rows.append({"prompt": prompt, "completion": completion})
        if len(rows) == ROWS:
            break
    assert len(rows) >= 2 * BATCH, "too few rows fit MAX_LENGTH"

    # transformers 5.24 loads llama GGUFs through its legacy path, which dequantises every
    # tensor to float32 but still marks the model quantized, and Trainer then refuses it
    # ("cannot perform fine-tuning on purely quantized models"); asking for the dequantised
    # load says what happens and clears the mark, leaving a plain trainable LlamaForCausalLM.
    model = AutoModelForCausalLM.from_pretrained(
        str(gguf.parent), gguf_file=gguf.name, quantization_config=GgufConfig(dequantize=True))
    assert not model.is_quantized and model.dtype == torch.float32
    config = SFTConfig(
        output_dir=str(output_dir), max_steps=2, per_device_train_batch_size=BATCH,
        gradient_accumulation_steps=1, max_length=MAX_LENGTH, learning_rate=1e-5,
        logging_steps=1, save_strategy="no", report_to="none", use_cpu=True,
        dataloader_num_workers=0, disable_tqdm=True, seed=0)
    trainer = SFTTrainer(model=model, args=config, processing_class=tokenizer,
                         train_dataset=datasets.Dataset.from_list(rows))
    trainer.train()
    assert trainer.state.global_step == 2
    assert not any(output_dir.glob("checkpoint-*")), "nothing may be saved"
    return trainer.state.log_history
