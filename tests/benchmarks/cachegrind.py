"""A command's CPU instructions, counted by valgrind's cachegrind: the same count on a loaded machine
as on a quiet one, where CPU time moves by a quarter. PYTHONHASHSEED=0 and one BLAS thread make two
runs of the same code agree to about 0.01%. Needs valgrind (`apt-get install valgrind`); the command
runs about 50 times slower."""
from __future__ import annotations

import os
import re
import subprocess


def instructions(command: list[str]) -> int:
    """Instructions `command` ran, all its threads together."""
    env = {**os.environ, "PYTHONHASHSEED": "0", "OPENBLAS_NUM_THREADS": "1"}
    result = subprocess.run(["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
                             *command], capture_output=True, text=True, env=env, check=True)
    return int(re.search(r"I\s+refs:\s+([\d,]+)", result.stderr).group(1).replace(",", ""))
