"""`tokenmill eval` against lm-evaluation-harness itself: the same acc/acc_norm on the same
multiple-choice files, and the same bits per byte as its rolling log-likelihood, for the sample's
run exported with `tokenmill export --hf`.

Its own tier, as lm-eval brings some 35 packages (datasets, pandas, evaluate, sacrebleu, nltk...):

    pip install -e '.[dev,lmeval]' && python -m pytest -q -m lmeval

The harness runs in a child process with the Hugging Face hubs offline and its caches in a
temporary folder; its tasks are local YAML files that include the harness's own `hellaswag`,
`arc_easy` and `piqa` task files (their prompts and HellaSwag's preprocessing) over our JSONL files.
"""
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from eval_sets import ITEMS, held_out_texts, write_choice_files, write_text_set
from tokenmill.jobs.cli import cli

pytestmark = pytest.mark.lmeval

HARNESS_SCRIPT = """
import json, sys
import lm_eval
from lm_eval.tasks import TaskManager

folder, tasks_dir, tasks = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
results = lm_eval.simple_evaluate(model="hf", model_args=f"pretrained={folder},dtype=float32", tasks=tasks,
                                  num_fewshot=0, batch_size=4, device="cpu", log_samples=True,
                                  task_manager=TaskManager(include_path=tasks_dir))
out = {}
for task in tasks:
    samples = sorted(results["samples"][task], key=lambda s: s["doc_id"])
    out[task] = {"metrics": results["results"][task], "documents": len(samples)}
json.dump(out, sys.stdout)
"""


def harness_tasks(folder: Path, files: dict[str, Path], text: Path) -> Path:
    """Local task files over our JSONL files; the multiple-choice ones include the harness's own."""
    import lm_eval

    tasks = folder / "tasks"
    tasks.mkdir()
    installed = Path(lm_eval.__file__).parent / "tasks"
    local = {"dataset_path": "json", "dataset_name": None, "training_split": None, "validation_split": None,
             "test_split": "test"}
    for name, include in (("hellaswag", "hellaswag/hellaswag.yaml"), ("arc", "arc/arc_easy.yaml"),
                          ("piqa", "piqa/piqa.yaml")):
        config = {"include": str(installed / include), "task": f"tm_{name}", "tag": [],
                  "dataset_kwargs": {"data_files": {"test": str(files[name])}}, **local}
        if name == "piqa":  # the labels are in piqa-labels.lst, as PIQA's release keeps them
            config["process_docs"] = "!function labels.add_labels"
        (tasks / f"tm_{name}.yaml").write_text(json.dumps(config).replace('"!function labels.add_labels"',
                                                                          "!function labels.add_labels"))
    (tasks / "labels.py").write_text(textwrap.dedent(f"""
        LABELS = [int(v) for v in open({str(files['piqa'].with_name('piqa-labels.lst'))!r}).read().split()]

        def add_labels(dataset):
            return dataset.map(lambda doc, index: {{"label": LABELS[index]}}, with_indices=True)
    """))
    text_task = {"task": "tm_text", "dataset_kwargs": {"data_files": {"test": str(text)}}, **local,
                 "output_type": "loglikelihood_rolling", "doc_to_text": "", "doc_to_target": "{{text}}",
                 "metric_list": [{"metric": "bits_per_byte"}]}
    (tasks / "tm_text.yaml").write_text(json.dumps(text_task))
    return tasks


def test_lm_eval_gives_the_same_accuracy_and_bits_per_byte(sample_run, sample_texts, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(sample_run[0], out)
    folder = tmp_path / "hf"
    assert CliRunner().invoke(cli, ["export", "--run", str(out / "run"), "--hf", str(folder)]).exit_code == 0
    files = write_choice_files(sample_texts, tmp_path)
    text = tmp_path / "held.jsonl"
    flag = write_text_set(text, held_out_texts(sample_texts))
    context = json.loads((folder / "config.json").read_text())["n_positions"]

    args = ["eval", "--run", str(out / "run"), "--device", "cpu", "--stride", str(context), "--text", flag]
    for name, path in files.items():
        args += ["--choice", f"{name}={path}"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    ours = json.loads((out / "run" / "eval.json").read_text())["evaluations"][-1]

    tasks = harness_tasks(tmp_path, files, text)
    env = {**os.environ, "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf-home"),
           "TOKENIZERS_PARALLELISM": "false"}
    names = ["tm_hellaswag", "tm_arc", "tm_piqa", "tm_text"]
    run = subprocess.run([sys.executable, "-c", HARNESS_SCRIPT, str(folder), str(tasks), ",".join(names)],
                         capture_output=True, text=True, env=env, timeout=1200)
    assert run.returncode == 0, run.stderr[-4000:]
    harness = json.loads(run.stdout.strip().splitlines()[-1])

    print("\n| set | figure | tokenmill eval | lm-evaluation-harness |\n| --- | --- | ---: | ---: |")
    for name in files:
        for figure in ("acc", "acc_norm", "acc_stderr"):
            print(f"| {name} ({ITEMS} questions) | {figure} | {ours['choice'][name][figure]:.6f} | "
                  f"{harness[f'tm_{name}']['metrics'][f'{figure},none']:.6f} |")
    print(f"| held ({ours['text']['held']['documents']} documents) | bits per byte, stride {context} | "
          f"{ours['text']['held']['bits_per_byte']:.6f} | {harness['tm_text']['metrics']['bits_per_byte,none']:.6f} |")
    for name in files:
        theirs, mine = harness[f"tm_{name}"], ours["choice"][name]
        assert theirs["documents"] == mine["items"] == ITEMS
        assert mine["acc"] == pytest.approx(theirs["metrics"]["acc,none"], abs=1e-12), name
        assert mine["acc_norm"] == pytest.approx(theirs["metrics"]["acc_norm,none"], abs=1e-12), name
        assert mine["acc_stderr"] == pytest.approx(theirs["metrics"]["acc_stderr,none"], abs=1e-9), name
    assert ours["text"]["held"]["bits_per_byte"] == pytest.approx(harness["tm_text"]["metrics"]["bits_per_byte,none"],
                                                                   abs=1e-4)
