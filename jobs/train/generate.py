"""`tokenmill generate`: sample a continuation of a prompt from a trained run.

Autoregressive sampling with temperature and top-k (Fan et al. 2018): each new id is drawn
from the softmax of the last position's logits over `temperature`, kept to the `top_k` most
likely ids; temperature 0 takes the most likely id. The context is the last `block_size` ids.
Sampling stops after `max_new_tokens` ids or at the end-of-text id.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import click
import torch

from tokenmill.jobs.train.model import GPT
from tokenmill.jobs.train.trained import eot_id, load_trained, tokenizer_path


@torch.no_grad()
def sample(model: GPT, prompt: list[int], max_new_tokens: int, temperature: float = 1.0,
           top_k: Optional[int] = None, seed: int = 0, stop_id: Optional[int] = None) -> list[int]:
    """The ids `model` adds after `prompt` (not including it)."""
    if not prompt:
        raise ValueError("the prompt must hold at least one token")
    generator = torch.Generator().manual_seed(seed)
    device = next(model.parameters()).device
    ids = torch.tensor([prompt], dtype=torch.long, device=device)
    added: list[int] = []
    for _ in range(max_new_tokens):
        logits = model(ids[:, -model.cfg.block_size:])[0, -1].float().cpu()
        if temperature == 0:
            chosen = int(logits.argmax())
        else:
            logits = logits / temperature
            if top_k is not None and top_k < logits.numel():
                floor = torch.topk(logits, top_k).values[-1]
                logits = logits.masked_fill(logits < floor, float("-inf"))
            chosen = int(torch.multinomial(torch.softmax(logits, dim=-1), 1, generator=generator))
        if chosen == stop_id:
            break
        added.append(chosen)
        ids = torch.cat([ids, torch.tensor([[chosen]], device=device)], dim=1)
    return added


@click.command("generate")
@click.option("--run", "run_dir", required=True, type=click.Path(file_okay=False, exists=True, path_type=Path),
              help="Run folder of `tokenmill train`.")
@click.option("--checkpoint", "step", type=click.IntRange(min=0), help="Step of the checkpoint (default: the newest).")
@click.option("--prompt", required=True, help="Text to continue.")
@click.option("--max-new-tokens", type=click.IntRange(min=1), default=100, show_default=True)
@click.option("--temperature", type=click.FloatRange(min=0.0), default=0.8, show_default=True,
              help="0 picks the most likely token each time.")
@click.option("--top-k", type=click.IntRange(min=1), default=200, show_default=True)
@click.option("--seed", type=int, default=1337, show_default=True)
@click.option("--tokenizer", "tokenizer", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="tokenizer.json (default: RUN/tokenizer.json).")
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu", show_default=True)
def generate_command(run_dir: Path, step: Optional[int], prompt: str, max_new_tokens: int,
                     temperature: float, top_k: int, seed: int, tokenizer: Optional[Path], device: str) -> None:
    """Continue PROMPT with a trained run's model and tokenizer."""
    from tokenizers import Tokenizer

    try:
        trained = load_trained(run_dir, step)
        encoder = Tokenizer.from_file(str(tokenizer_path(run_dir, trained, tokenizer)))
    except (FileNotFoundError, ValueError) as err:
        raise click.ClickException(str(err)) from None
    model = trained.model.to(device)
    added = sample(model, encoder.encode(prompt).ids, max_new_tokens, temperature, top_k, seed,
                   stop_id=eot_id(trained))
    click.echo(prompt + encoder.decode(added, skip_special_tokens=False))
