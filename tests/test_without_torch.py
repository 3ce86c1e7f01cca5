"""`pip install tokenmill` curates, trains the tokenizer and packs without PyTorch (the workers of Flink,
Spark and Dataflow stay small); the commands that train say how to install it."""
import subprocess
import sys

from conftest import REPO

WITHOUT_TORCH = "import sys; sys.modules['torch'] = None  # import torch now fails, as where it is not installed\n"


def run_without_torch(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", WITHOUT_TORCH + code], capture_output=True, text=True, cwd=REPO,
                          timeout=120)


def test_curate_tokenizer_pack_and_run_import_without_torch():
    result = run_without_torch(
        "import importlib\n"
        "for job in ('curate', 'tokenizer', 'pack', 'run', 'export_tokens', 'classifier', 'report.page', 'plan'):\n"
        "    importlib.import_module(f'tokenmill.jobs.{job}')\n"
        "from tokenmill.jobs.train import torch_installed\n"
        "print(torch_installed())\n")
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "False"


def test_the_training_commands_say_how_to_install_torch(tmp_path):
    result = run_without_torch(
        "from click.testing import CliRunner\n"
        "from tokenmill.jobs.cli import cli\n"
        "for args in (['train', '--help'], ['generate', '--help'], "
        f"['run', '--sample', '--output', {str(tmp_path / 'out')!r}]):\n"
        "    run = CliRunner().invoke(cli, args)\n"
        "    print(run.exit_code, run.output.strip().splitlines()[-1])\n")
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 3
    for line in lines:
        assert not line.startswith("0 ") and "pip install 'tokenmill[train]'" in line, line
    assert "`tokenmill train` needs PyTorch" in lines[0] and "--skip-train" in lines[2]
    assert not (tmp_path / "out").exists()  # refused before curating anything
