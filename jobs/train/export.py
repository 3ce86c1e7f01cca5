"""`tokenmill export`: a trained run as a Hugging Face `GPT2LMHeadModel` folder.

The model is GPT-2's architecture exactly (pre-norm blocks, tanh GELU, learned positions, tied
output layer), so export is a renaming: GPT-2's `Conv1D` layers store their weight as
(in, out), the transpose of `nn.Linear`'s, and the embedding drops the rows of the padding ids.
The folder holds `config.json`, `model.safetensors`, and the run's `tokenizer.json` with
`tokenizer_config.json` and `special_tokens_map.json` (end-of-text as eos, bos and pad), so
`transformers.AutoModelForCausalLM.from_pretrained(DIR)` and `AutoTokenizer.from_pretrained(DIR)`
load it; transformers itself is not needed to write it.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Optional

import click
import torch
from safetensors.torch import save_file

from tokenmill.jobs.train.model import GPT
from tokenmill.jobs.train.trained import Trained, eot_id, load_trained, tokenizer_path

# (our parameter name in a block, GPT-2's, whether the weight is transposed for Conv1D)
_BLOCK = (
    ("ln_attn.weight", "ln_1.weight", False), ("ln_attn.bias", "ln_1.bias", False),
    ("attn.qkv.weight", "attn.c_attn.weight", True), ("attn.qkv.bias", "attn.c_attn.bias", False),
    ("attn.proj.weight", "attn.c_proj.weight", True), ("attn.proj.bias", "attn.c_proj.bias", False),
    ("ln_mlp.weight", "ln_2.weight", False), ("ln_mlp.bias", "ln_2.bias", False),
    ("mlp.up.weight", "mlp.c_fc.weight", True), ("mlp.up.bias", "mlp.c_fc.bias", False),
    ("mlp.proj.weight", "mlp.c_proj.weight", True), ("mlp.proj.bias", "mlp.c_proj.bias", False),
)


def gpt2_state_dict(model: GPT) -> dict[str, torch.Tensor]:
    """The weights under GPT2LMHeadModel's names (the tied `lm_head.weight` left out, as
    transformers saves it); a model without biases gets zero ones, which GPT-2 always has."""
    cfg, ours = model.cfg, model.state_dict()
    out = {"transformer.wte.weight": ours["token_embedding.weight"][:cfg.vocab_size],
           "transformer.wpe.weight": ours["position_embedding.weight"],
           "transformer.ln_f.weight": ours["ln_final.weight"],
           "transformer.ln_f.bias": ours.get("ln_final.bias", torch.zeros(cfg.n_embd))}
    for i in range(cfg.n_layer):
        for name, theirs, transpose in _BLOCK:
            key = f"blocks.{i}.{name}"
            if key in ours:
                value = ours[key].T if transpose else ours[key]
            else:  # a bias of a model trained with bias: false
                value = torch.zeros(ours[key.replace(".bias", ".weight")].shape[0])
            out[f"transformer.h.{i}.{theirs}"] = value
    return {k: v.detach().float().contiguous().clone() for k, v in out.items()}


def gpt2_config(trained: Trained) -> dict:
    cfg, eot = trained.model.cfg, eot_id(trained)
    return {
        "architectures": ["GPT2LMHeadModel"], "model_type": "gpt2",
        "vocab_size": cfg.vocab_size, "n_positions": cfg.block_size, "n_embd": cfg.n_embd,
        "n_layer": cfg.n_layer, "n_head": cfg.n_head, "n_inner": 4 * cfg.n_embd,
        "activation_function": "gelu_new", "layer_norm_epsilon": 1e-5, "initializer_range": 0.02,
        "resid_pdrop": cfg.dropout, "embd_pdrop": cfg.dropout, "attn_pdrop": cfg.dropout,
        "scale_attn_weights": True, "tie_word_embeddings": True, "dtype": "float32",
        "bos_token_id": eot, "eos_token_id": eot, "pad_token_id": eot,
    }


def tokenizer_files(tokenizer_json: Path, out_dir: Path, eot: Optional[int], max_length: int) -> None:
    """tokenizer.json, and the two files that tell transformers its special tokens."""
    shutil.copyfile(tokenizer_json, out_dir / "tokenizer.json")
    added = {t["id"]: t["content"] for t in json.loads(tokenizer_json.read_text()).get("added_tokens", [])}
    special = {key: added[eot] for key in ("bos_token", "eos_token", "unk_token", "pad_token")} \
        if eot in added else {}
    (out_dir / "special_tokens_map.json").write_text(json.dumps(special, indent=2) + "\n")
    config = {"tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": max_length,
              "clean_up_tokenization_spaces": False, **special}
    (out_dir / "tokenizer_config.json").write_text(json.dumps(config, indent=2) + "\n")


def export_hf(run_dir: Path, out_dir: Path, step: Optional[int] = None,
              tokenizer: Optional[Path] = None) -> Trained:
    """Write the run's model (its newest checkpoint, or `step`'s) to `out_dir` for transformers."""
    trained = load_trained(run_dir, step)
    tokenizer_json = tokenizer_path(run_dir, trained, tokenizer)
    out_dir.mkdir(parents=True, exist_ok=True)
    save_file(gpt2_state_dict(trained.model), str(out_dir / "model.safetensors"), metadata={"format": "pt"})
    (out_dir / "config.json").write_text(json.dumps(gpt2_config(trained), indent=2) + "\n")
    eot = eot_id(trained)
    (out_dir / "generation_config.json").write_text(json.dumps(
        {"bos_token_id": eot, "eos_token_id": eot, "pad_token_id": eot}, indent=2) + "\n")
    tokenizer_files(tokenizer_json, out_dir, eot, trained.model.cfg.block_size)
    return trained


@click.command("export")
@click.option("--run", "run_dir", required=True, type=click.Path(file_okay=False, exists=True, path_type=Path),
              help="Run folder of `tokenmill train`.")
@click.option("--hf", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder to write the transformers model and tokenizer to.")
@click.option("--checkpoint", "step", type=click.IntRange(min=0), help="Step of the checkpoint (default: the newest).")
@click.option("--tokenizer", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="tokenizer.json (default: RUN/tokenizer.json).")
def export_command(run_dir: Path, out_dir: Path, step: Optional[int], tokenizer: Optional[Path]) -> None:
    """Export a trained run as a transformers GPT2LMHeadModel (safetensors) with its tokenizer."""
    try:
        trained = export_hf(run_dir, out_dir, step, tokenizer)
    except (FileNotFoundError, ValueError) as err:
        raise click.ClickException(str(err)) from None
    click.echo(f"step {trained.step}: {trained.model.num_params():,} parameters → {out_dir} "
               f"(transformers GPT2LMHeadModel, safetensors)")
