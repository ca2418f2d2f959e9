"""Convert a GGUF chat model into a Hugging Face model directory that vLLM can serve.

    .venv-vllm/bin/python scripts/gguf_to_hf.py MODEL.gguf OUT_DIR

Runs in vLLM's environment (it has transformers, torch and gguf). transformers
dequantises the GGUF weights, so the directory holds the same function the embedded
llama.cpp engine computes, up to the quantisation's rounding; weights are saved as float32
safetensors. Written to a temporary sibling and renamed into place: a killed conversion
leaves no half directory that would later pass for a model.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path


def main() -> None:
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    gguf, out = Path(sys.argv[1]), Path(sys.argv[2])
    if (out / "config.json").is_file():
        print(f"[gguf_to_hf] {out} exists")
        return
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name,
                                                     torch_dtype=torch.float32)
        # The weights are already dequantised in memory; transformers still marks the model
        # as GGUF-quantised and refuses to save it. Drop the marker: what is saved is plain
        # float32 weights, which is what vLLM needs.
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        tmp.chmod(0o755)
        tmp.rename(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"[gguf_to_hf] {gguf.name} -> {out}")


if __name__ == "__main__":
    main()
