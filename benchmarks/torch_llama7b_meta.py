"""Benchmark: audit a Llama-2-7B-sized LlamaConfig model built on the meta device.

Records wall time and peak resident memory of the audit (the weights are never allocated: 6.7 G
parameters would need 27 GB in float32).  Run: python benchmarks/torch_llama7b_meta.py
"""

from __future__ import annotations

import json
import resource
import time


def main() -> None:
    import torch
    import transformers

    import auditor

    config = transformers.LlamaConfig(hidden_size=4096, intermediate_size=11008, num_hidden_layers=32,
                                      num_attention_heads=32, num_key_value_heads=32, vocab_size=32000)
    start = time.perf_counter()
    with torch.device("meta"):
        model = transformers.LlamaForCausalLM(config)
    built = time.perf_counter()
    audit = auditor.audit(model, input_shape=(1, 128), dtype="int64")
    done = time.perf_counter()
    print(json.dumps({
        "params": audit.totals.reported,
        "macs": audit.totals.macs,
        "build_s": round(built - start, 3),
        "audit_s": round(done - built, 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }))


if __name__ == "__main__":
    main()
