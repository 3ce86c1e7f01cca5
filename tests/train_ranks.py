"""Run under torchrun by tests/test_train.py: several training runs in one process group.

    torchrun --nproc_per_node 2 tests/train_ranks.py TOKENS OUT CONFIG.json

CONFIG.json maps a run name to {"config": TrainConfig fields, "stop_at": [N, ...]}; each run is
trained into OUT/NAME, once per `stop_at` entry (null: to the end), so a list resumes it.
"""
import json
import sys
from pathlib import Path

import torch.distributed as dist

from tokenmill.jobs.train import train
from tokenmill.pipeline.train_config import train_config


def main() -> None:
    tokens, out, runs = sys.argv[1], Path(sys.argv[2]), json.loads(Path(sys.argv[3]).read_text())
    dist.init_process_group("gloo")
    try:
        for name, run in runs.items():
            cfg = train_config(run["config"], f"{sys.argv[3]}: {name}")
            for stop_at in run.get("stop_at", [None]):
                train(tokens, out / name, cfg, stop_at=stop_at)
    finally:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
