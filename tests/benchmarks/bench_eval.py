"""Benchmark: `tokenmill eval`'s bits per byte, its speed on the CPU, and the stride's effect on the figure.

    python tests/benchmarks/bench_eval.py --run RUN [--text wikitext=jsonl:FILE] [--threads 1] [--lm-eval]

RUN is a `tokenmill train` run folder (e.g. a proxy of tests/benchmarks/bench_ablate.py,
/tmp/tokenmill-ablation/ablation/arms/default/seed-1). In one process, with the same torch threads:
tokenmill's batched evaluation at strides of the whole, half and a quarter of the context, and the
plain-library baseline, transformers' GPT2LMHeadModel on the run's `tokenmill export --hf` folder
scoring the same windows one at a time (the loop of Hugging Face's perplexity guide). With
`--lm-eval`, lm-evaluation-harness's rolling log-likelihood (disjoint windows, its `bits_per_byte`)
runs on the same folder in a child process, timed inside it (model loading excluded). Tokens/s
counts the tokens scored; CPU-seconds are the process's, all threads, and the ratios are per
CPU-second (wall time moves with the other jobs on a shared machine).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
ABLATION = Path(tempfile.gettempdir()) / "tokenmill-ablation"  # bench_ablate.py's default output

LM_EVAL_SCRIPT = """
import json, sys, time
import lm_eval
from lm_eval.models.huggingface import HFLM
from lm_eval.tasks import TaskManager
import torch
torch.set_num_threads(int(sys.argv[3]))
model = HFLM(pretrained=sys.argv[1], dtype="float32", device="cpu", batch_size=8)
started, cpu = time.perf_counter(), time.process_time()
results = lm_eval.simple_evaluate(model=model, tasks=["tm_text"], num_fewshot=0,
                                  task_manager=TaskManager(include_path=sys.argv[2]))
print(json.dumps({"seconds": time.perf_counter() - started, "cpu": time.process_time() - cpu,
                  "bits_per_byte": results["results"]["tm_text"]["bits_per_byte,none"]}))
"""


def transformers_loop(folder: Path, texts: list[str], context: int, stride: int) -> tuple[float, int]:
    """Bits per byte and tokens scored, one window at a time with transformers."""
    import torch
    import transformers

    model = transformers.AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
    nats, size, scored = 0.0, 0, 0
    for text in texts:
        ids = [tokenizer.eos_token_id] + tokenizer(text, add_special_tokens=False)["input_ids"]
        n, done, end = len(ids) - 1, 0, min(context, len(ids) - 1)
        while done < n:
            start = max(0, end - context)
            with torch.inference_mode():
                log_probs = torch.log_softmax(model(torch.tensor([ids[start:end]])).logits[0].float(), dim=-1)
            targets = torch.tensor(ids[done + 1:end + 1])
            nats -= float(log_probs[done - start:end - start].gather(1, targets[:, None]).sum())
            scored += end - done
            done, end = end, min(end + stride, n)
        size += len(text.encode("utf-8"))
    return nats / math.log(2) / size, scored


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", type=Path, required=True)
    parser.add_argument("--text", default=f"wikitext=jsonl:{ABLATION / 'eval' / 'wikitext.jsonl'}",
                        help="held-out text (default: the WikiText set bench_ablate.py writes)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--lm-eval", action="store_true")
    args = parser.parse_args()

    import torch
    from click.testing import CliRunner

    from tokenmill.jobs.cli import cli
    from tokenmill.jobs.eval.evaluate import evaluate_model
    from tokenmill.jobs.eval.models import TokenmillModel
    from tokenmill.jobs.sources import read_documents

    torch.set_num_threads(args.threads)
    model = TokenmillModel(args.run, device="cpu")
    context = model.context
    rows = []
    for stride in (context, context // 2, context // 4):
        results, speed = evaluate_model(model, [args.text], [], stride, args.batch_size, show_progress=False,
                                        echo=lambda line: None)
        score = next(iter(results["text"].values()))
        rows.append((f"tokenmill eval, stride {stride} of {context}", score["bits_per_byte"], score["tokens"],
                     speed.seconds, speed.cpu_seconds, context / stride))
    texts = [doc.text for doc in read_documents(args.text)]
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / "hf"
        assert CliRunner().invoke(cli, ["export", "--run", str(args.run), "--hf", str(folder)]).exit_code == 0
        for stride in (context, context // 2):
            started, cpu = time.perf_counter(), time.process_time()
            bpb, scored = transformers_loop(folder, texts, context, stride)
            rows.append((f"transformers loop, one window at a time, stride {stride}", bpb, scored,
                         time.perf_counter() - started, time.process_time() - cpu, context / stride))
        if args.lm_eval:
            rows.append(lm_eval_row(folder, args.text, scratch, args.threads))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    loop = {cost: tokens / cpu for name, _, tokens, _, cpu, cost in rows if name.startswith("transformers")}
    print(f"\n{args.run}: {model.params:,} parameters, context {context}; {len(texts)} documents; "
          f"{args.threads} torch thread(s), batch {args.batch_size}; peak RSS of this process {peak:,.0f} MB\n")
    print("| evaluation | bits per byte | tokens scored | tokens/s | tokens per CPU-s | forward passes per token "
          "| tokens per CPU-s vs the transformers loop at the same stride |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, bpb, tokens, seconds, cpu, cost in rows:
        ratio = f"{tokens / cpu / loop[cost]:.2f}×" if cost in loop else ""
        print(f"| {name} | {bpb:.4f} | {tokens:,} | {tokens / seconds:,.0f} | {tokens / cpu:,.0f} | {cost:g} "
              f"| {ratio} |")


def lm_eval_row(folder: Path, text_flag: str, scratch: str, threads: int) -> tuple:
    tasks = Path(scratch) / "tasks"
    tasks.mkdir()
    path = text_flag.split(":", 1)[1]
    (tasks / "tm_text.yaml").write_text(json.dumps({
        "task": "tm_text", "dataset_path": "json", "dataset_kwargs": {"data_files": {"test": path}},
        "test_split": "test", "output_type": "loglikelihood_rolling", "doc_to_text": "",
        "doc_to_target": "{{text}}", "metric_list": [{"metric": "bits_per_byte"}]}))
    env = {**os.environ, "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1", "HF_HOME": str(Path(scratch) / "hf-home")}
    run = subprocess.run([sys.executable, "-c", LM_EVAL_SCRIPT, str(folder), str(tasks), str(threads)],
                         capture_output=True, text=True, env=env, check=True)
    found = json.loads(run.stdout.strip().splitlines()[-1])
    context = json.loads((folder / "config.json").read_text())["n_positions"]
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    tokens = sum(len(tokenizer(json.loads(line)["text"], add_special_tokens=False)["input_ids"])
                 for line in open(path, encoding="utf-8"))
    return (f"lm-eval rolling log-likelihood (windows of {context}, disjoint)", found["bits_per_byte"], tokens,
            found["seconds"], found["cpu"], 1)


if __name__ == "__main__":
    main()
