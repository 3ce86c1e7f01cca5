"""`tokenmill eval`: bits per byte and multiple-choice accuracy of the sample's trained run, checked
against the same figures computed with transformers directly on its `tokenmill export --hf` folder.

The comparison with lm-evaluation-harness itself is in tests/test_eval_lmeval.py (its own tier).
"""
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from tokenmill.jobs.cli import cli
from tokenmill.jobs.eval.choice import choice_accuracy, read_choice_set
from tokenmill.jobs.eval.intervals import ratio_interval, wilson_interval
from tokenmill.jobs.eval.windows import windows
from eval_sets import ITEMS, held_out_texts, write_choice_files, write_text_set

transformers = pytest.importorskip("transformers")


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread: steadier on a shared machine, where idle threads spin."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def invoke(*args: str):
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result


# Windows ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("context,stride", [(8, 8), (8, 4), (8, 3), (8, 1), (5, 5)])
def test_windows_score_every_token_once_with_the_context_the_stride_leaves(context, stride):
    for length in range(1, 40):
        seen = []
        for w in windows(length, context, stride):
            assert 0 < w.end - w.start <= context
            scored = list(range(w.start + 1 + w.skip, w.end + 1))  # positions of the scored targets
            assert all(p - w.start >= 1 for p in scored)
            if seen:  # after the first window every scored id sees at least context − stride ids
                assert min(p - w.start for p in scored) >= context - stride + 1
            seen += scored
        assert seen == list(range(1, length))


def test_with_stride_equal_to_context_the_windows_are_disjoint_blocks():
    """As lm-evaluation-harness's rolling windows cut a document: predict `context` ids at a time, each
    block from the ids of the block before it only."""
    found = [(w.start, w.end, w.skip) for w in windows(20, 6, 6)]
    assert found == [(0, 6, 0), (6, 12, 0), (12, 18, 0), (13, 19, 5)]


# Intervals ----------------------------------------------------------------------------------------

def test_intervals_cover_the_estimate_and_narrow_with_the_set():
    low, high = wilson_interval(30, 100)
    assert low < 0.3 < high and 0 <= low and high <= 1
    assert wilson_interval(300, 1000)[1] - wilson_interval(300, 1000)[0] < high - low
    assert wilson_interval(0, 10)[0] == 0.0 and wilson_interval(0, 0) is None
    rng = np.random.default_rng(0)
    sizes = rng.integers(100, 2000, size=400).astype(float)
    bits = sizes * rng.normal(1.5, 0.2, size=400)
    low, high = ratio_interval(bits, sizes)
    assert low < bits.sum() / sizes.sum() < high and high - low < 0.05
    assert ratio_interval(bits[:1], sizes[:1]) is None


# Multiple-choice layouts --------------------------------------------------------------------------

def test_choice_layouts_are_formatted_as_the_harness_formats_them(tmp_path):
    hellaswag = tmp_path / "hellaswag.jsonl"
    hellaswag.write_text("\n".join(json.dumps(r) for r in [
        {"activity_label": "Baking cookies", "ctx_a": "A woman puts dough on a tray.", "ctx_b": "she",
         "endings": ["puts the tray in the oven.", "[header] eats it [title] raw.", "sings.", "runs."], "label": "0"},
        {"ctx": "A man is rowing.", "endings": ["a", "b"], "label": 5},   # label out of range
    ]) + "\nnot json\n")
    found = read_choice_set(hellaswag)
    assert found.layout == "hellaswag" and len(found.items) == 1
    assert found.items[0].context == "Baking cookies: A woman puts dough on a tray. She"
    # As the harness's preprocess: strip first, then cut the brackets (leaving the space before them).
    assert found.items[0].choices[1] == " eats it. raw." and found.items[0].gold == 0
    assert found.skipped == {"bad_label": 1, "not_json": 1}

    arc = tmp_path / "arc.jsonl"
    arc.write_text("\n".join(json.dumps(r) for r in [
        {"question": "Which is a gas?", "choices": {"text": ["ice", "steam"], "label": ["A", "B"]}, "answerKey": "B"},
        {"question": {"stem": "Which is hot?",
                      "choices": [{"text": "sun", "label": "1"}, {"text": "snow", "label": "2"}]}, "answerKey": "1"},
        {"question": "Which?", "choices": {"text": ["x", "y"], "label": ["A", "B"]}, "answerKey": "E"},
    ]) + "\n")
    found = read_choice_set(arc)
    assert [(i.context, i.choices, i.gold) for i in found.items] == [
        ("Question: Which is a gas?\nAnswer:", ("ice", "steam"), 1),
        ("Question: Which is hot?\nAnswer:", ("sun", "snow"), 0)]
    assert found.skipped == {"answer_not_a_choice": 1}

    piqa = tmp_path / "valid.jsonl"  # PIQA's release: labels in valid-labels.lst
    piqa.write_text("".join(json.dumps(r) + "\n" for r in [
        {"goal": "Dry a wet phone.", "sol1": "Put it in rice.", "sol2": "Put it in water."},
        {"goal": "Open a jar.", "sol1": "Twist the lid.", "sol2": "Eat the lid."}]))
    (tmp_path / "valid-labels.lst").write_text("0\n0\n")
    found = read_choice_set(piqa)
    assert found.layout == "piqa" and [i.gold for i in found.items] == [0, 0]
    assert found.items[0].context == "Question: Dry a wet phone.\nAnswer:"

    unknown = tmp_path / "other.jsonl"
    unknown.write_text(json.dumps({"prompt": "x", "answer": "y"}) + "\n")
    with pytest.raises(ValueError, match="none of the layouts' fields"):
        read_choice_set(unknown)


def test_acc_norm_divides_by_the_choice_length_in_characters():
    # "a" is likelier in total; per character, "a long answer" is.
    assert choice_accuracy([-2.0, -6.0], ["a", "a long answer"], 1) == (False, True)
    assert choice_accuracy([-1.0, -1.0], ["x", "y"], 0) == (True, True)  # a tie goes to the first choice


# Against transformers, on the sample's trained run ------------------------------------------------

@pytest.fixture(scope="module")
def exported(sample_run, tmp_path_factory):
    """A copy of the sample's output (so eval.json and the report land in it alone), its run's
    `tokenmill export --hf` folder, and that folder loaded by transformers."""
    out = tmp_path_factory.mktemp("eval") / "out"
    shutil.copytree(sample_run[0], out)
    folder = out.parent / "hf"
    invoke("export", "--run", str(out / "run"), "--hf", str(folder))
    model = transformers.AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    return out / "run", folder, model, transformers.AutoTokenizer.from_pretrained(folder)


@pytest.fixture(scope="module")
def text_set(sample_texts, tmp_path_factory) -> tuple[str, list[str]]:
    texts = held_out_texts(sample_texts)
    return write_text_set(tmp_path_factory.mktemp("text") / "held.jsonl", texts), texts


def transformers_bits_per_byte(model, tokenizer, texts: list[str], context: int, stride: int) -> float:
    """A direct computation: each document after the end-of-text id, its ids predicted once, the
    first `context` from the start, then `stride` at a time with the ids before them as context."""
    nats, size = 0.0, 0
    for text in texts:
        ids = [tokenizer.eos_token_id] + tokenizer(text, add_special_tokens=False)["input_ids"]
        n, done, end = len(ids) - 1, 0, min(context, len(ids) - 1)
        while done < n:
            start = max(0, end - context)
            with torch.no_grad():
                logits = model(torch.tensor([ids[start:end]])).logits[0]
            log_probs = torch.log_softmax(logits.double(), dim=-1)
            for position in range(done + 1, end + 1):
                nats -= float(log_probs[position - 1 - start, ids[position]])
            done, end = end, min(end + stride, n)
        size += len(text.encode("utf-8"))
    return nats / math.log(2) / size


def test_bits_per_byte_equals_a_direct_transformers_computation(exported, text_set, tmp_path):
    run, folder, model, tokenizer = exported
    flag, texts = text_set
    context = model.config.n_positions
    for stride in (context // 2, context):
        result = invoke("eval", "--run", str(run), "--text", flag, "--stride", str(stride), "--device", "cpu",
                        "--output", str(tmp_path / f"eval-{stride}.json"))
        ours = json.loads((tmp_path / f"eval-{stride}.json").read_text())["evaluations"][0]["text"]["held"]
        expected = transformers_bits_per_byte(model, tokenizer, texts, context, stride)
        assert abs(ours["bits_per_byte"] - expected) < 1e-4, (stride, ours["bits_per_byte"], expected)
        assert ours["documents"] == len(texts) and ours["bytes"] == sum(len(t.encode()) for t in texts)
        assert ours["tokens"] == sum(len(tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts)
        assert ours["stride"] == stride and "bits/byte" in result.output
        low, high = ours["bits_per_byte_ci95"]
        assert low < ours["bits_per_byte"] < high
    # The Hugging Face folder, evaluated as such, gives the same figure.
    invoke("eval", "--hf", str(folder), "--text", flag, "--stride", str(context), "--device", "cpu")
    hf = json.loads((folder / "eval.json").read_text())["evaluations"][0]["text"]["held"]
    assert abs(hf["bits_per_byte"] - ours["bits_per_byte"]) < 1e-4


def harness_log_likelihood(model, tokenizer, context: str, continuation: str) -> float:
    """lm-evaluation-harness's rule, restated: trailing spaces of the context move to the
    continuation; the continuation's ids are those of the whole after the context's own."""
    spaces = len(context) - len(context.rstrip())
    if spaces:
        context, continuation = context[:-spaces], context[-spaces:] + continuation
    whole, head = tokenizer.encode(context + continuation), tokenizer.encode(context)
    ids, count = whole[-(model.config.n_positions + 1):], len(whole) - len(head)
    with torch.no_grad():
        log_probs = torch.log_softmax(model(torch.tensor([ids[:-1]])).logits[0].double(), dim=-1)
    return sum(float(log_probs[i - 1, ids[i]]) for i in range(len(ids) - count, len(ids)))


def test_choice_accuracy_equals_a_direct_transformers_computation(exported, sample_texts, tmp_path):
    run, folder, model, tokenizer = exported
    files = write_choice_files(sample_texts, tmp_path)
    flags = [f"{name}={path}" for name, path in files.items()]
    invoke("eval", "--run", str(run), "--device", "cpu", "--batch-size", "5",
           *[arg for flag in flags for arg in ("--choice", flag)])
    entry = json.loads((run / "eval.json").read_text())["evaluations"][-1]["choice"]
    for name, path in files.items():
        found = read_choice_set(path)
        right = [choice_accuracy([harness_log_likelihood(model, tokenizer, item.context, " " + choice)
                                  for choice in item.choices], item.choices, item.gold) for item in found.items]
        assert entry[name]["items"] == len(found.items) == ITEMS
        assert entry[name]["acc"] == pytest.approx(sum(r[0] for r in right) / ITEMS, abs=1e-12), name
        assert entry[name]["acc_norm"] == pytest.approx(sum(r[1] for r in right) / ITEMS, abs=1e-12), name
        assert entry[name]["layout"] == name and entry[name]["chance"] == pytest.approx(0.25 if name != "piqa" else 0.5)


def test_eval_json_keeps_one_entry_per_checkpoint_and_the_same_run_writes_the_same_bytes(exported, text_set, tmp_path):
    run, _, _, _ = exported
    flag, _ = text_set
    target = tmp_path / "eval.json"
    common = ("--run", str(run), "--device", "cpu", "--output", str(target))
    invoke("eval", *common, "--checkpoint", "0", "--checkpoint", "30", "--text", flag)
    first = target.read_bytes()
    entries = json.loads(first)["evaluations"]
    assert [e["checkpoint"]["step"] for e in entries] == [0, 30]
    assert entries[1]["text"]["held"]["bits_per_byte"] < entries[0]["text"]["held"]["bits_per_byte"]
    invoke("eval", *common, "--checkpoint", "30", "--text", flag.replace("held=", "again="))
    entries = json.loads(target.read_text())["evaluations"]
    assert len(entries) == 2 and sorted(entries[1]["text"]) == ["again", "held"]
    assert entries[1]["text"]["again"]["bits_per_byte"] == entries[1]["text"]["held"]["bits_per_byte"]
    target.unlink()
    invoke("eval", *common, "--checkpoint", "0", "--checkpoint", "30", "--text", flag)
    assert target.read_bytes() == first
    card = json.loads((run / "run.json").read_text())["eval"]
    assert card["status"] == "ok" and card["throughput"]["tokens_per_s"] > 0


def test_the_report_shows_the_evaluation(exported, text_set, tmp_path):
    from tokenmill.jobs.report.page import build_report

    run, _, _, _ = exported
    flag, _ = text_set
    invoke("eval", "--run", str(run), "--device", "cpu", "--checkpoint", "0", "--checkpoint", "30", "--text", flag)
    page = Path(build_report(str(run.parent))).read_text()
    section = page[page.index('<section id="evaluation">'):]
    assert "held" in section and "bits per byte" in section and "<svg" in section


def test_bad_sets_get_a_clear_message_and_unreadable_records_are_counted(exported, tmp_path):
    run, _, _, _ = exported
    good = tmp_path / "good.jsonl"
    good.write_text(json.dumps({"id": "a", "text": "A short document about Python modules."}) + "\n"
                    + "{broken\n" + json.dumps({"id": "b", "text": "  "}) + "\n")
    result = invoke("eval", "--run", str(run), "--device", "cpu", "--text", f"t=jsonl:{good}",
                    "--output", str(tmp_path / "e.json"))
    found = json.loads((tmp_path / "e.json").read_text())["evaluations"][0]["text"]["t"]
    assert found["documents"] == 1 and found["unread"] == {"read/empty": 1, "read/invalid_json": 1}
    assert found["bits_per_byte_ci95"] is None  # one document: no interval
    assert "2 records unreadable, empty or removed at read time" in result.output
    damaged = tmp_path / "damaged.jsonl.gz"
    damaged.write_bytes(b"\x1f\x8b\x08\x00cut short")
    for args, message in [
        ((), "nothing to evaluate"),
        (("--choice", f"c={damaged}"), "cannot be read"),
        (("--text", f"t=jsonl:{tmp_path}/none*.jsonl"), "matches no file"),
        (("--text", f"t=nope:{good}"), "unknown format"),
        (("--choice", f"c={tmp_path}/missing.jsonl"), "no such file"),
        (("--choice", f"c={good}"), "none of the layouts' fields"),
        (("--text", f"t=jsonl:{good}", "--choice", f"t={good}"), "given twice"),
        (("--text", f"t=jsonl:{good}", "--stride", "100000"), "must be between 1 and the model's context"),
    ]:
        result = CliRunner().invoke(cli, ["eval", "--run", str(run), "--device", "cpu", *args])
        assert result.exit_code != 0 and message in result.output, (args, result.output)
    result = CliRunner().invoke(cli, ["eval", "--text", f"t=jsonl:{good}"])
    assert result.exit_code == 2 and "give --run RUN or --hf DIR" in result.output
