"""The documentation holds together: the configuration reference is what the code generates and names
every key; every relative link and anchor of the README, docs/ and examples/ resolves; every YAML
example loads as a config; the site's navigation lists every page; and every command's --help gives
each option's default and the page that documents it."""
import dataclasses
import importlib.util
import re
import typing
import unicodedata
from pathlib import Path

import click
import pytest
import yaml
from click.testing import CliRunner

from conftest import REPO, assert_config_loads_but_for_user_files
from tokenmill.jobs.cli import COMMANDS, DOCS, OPTION_KEYS, cli
from tokenmill.pipeline.config import Config
from tokenmill.pipeline.config_keys import default_text, job_sections

DOC_DIR = REPO / "docs"
REFERENCE = DOC_DIR / "reference" / "config.md"
PAGES = [REPO / "README.md", *sorted(DOC_DIR.rglob("*.md")), *sorted((REPO / "examples").rglob("README.md"))]


def generator():
    spec = importlib.util.spec_from_file_location("gen_config_reference", DOC_DIR / "gen_config_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_config_reference_is_what_the_generator_writes():
    assert REFERENCE.read_text(encoding="utf-8") == generator().render(), \
        "docs/reference/config.md is stale: run `python docs/gen_config_reference.py`"


def schema_keys() -> list[str]:
    """Every section of `Config` and each field of its dataclass (one level of nesting deep), walked here
    apart from the generator."""
    from tokenmill.pipeline.stages import STAGES

    hints = typing.get_type_hints(Config)
    sections = {"sources.<name>": typing.get_args(hints["sources"])[1],
                **{f"stages.{name}": stage.settings for name, stage in STAGES.items()}, **job_sections(),
                **{name: hint for name, hint in hints.items() if dataclasses.is_dataclass(hint)}}
    keys = []
    for prefix, cls in sections.items():
        fields = typing.get_type_hints(cls)
        for field in dataclasses.fields(cls):
            keys.append(f"{prefix}.{field.name}")
            if dataclasses.is_dataclass(fields[field.name]):
                keys += [f"{prefix}.{field.name}.{inner.name}" for inner in dataclasses.fields(fields[field.name])]
    return keys


def test_every_config_key_is_in_the_reference():
    page = REFERENCE.read_text(encoding="utf-8")
    keys = schema_keys()
    assert len(keys) > 150
    assert [key for key in keys if f"`{key}`" not in page] == []
    sections = [f.name for f in dataclasses.fields(Config) if f.name != "origin"]
    assert [s for s in sections if f"\n## {s}\n" not in page] == []


def slug(heading: str) -> str:
    """A heading's anchor as MkDocs (Python-Markdown's toc) and GitHub make it, for the headings used here."""
    text = re.sub(r"[`*]", "", heading).strip()
    text = unicodedata.normalize("NFKD", text)
    text = re.sub(r"[^\w\s-]", "", text).strip().lower()
    return re.sub(r"[-\s]+", "-", text)


def anchors(page: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
    return {slug(h) for h in re.findall(r"^#+ (.+)$", text, flags=re.M)}


def links(page: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
    text = re.sub(r"`[^`\n]*`", "", text)
    return re.findall(r"\]\(([^)\s]+)\)", text)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_relative_link_and_anchor_resolves(page):
    broken = []
    for link in links(page):
        if re.match(r"[a-z]+:", link):
            broken.append(f"{link}: an absolute link (relative links work on the forge and on the site)")
            continue
        path, _, anchor = link.partition("#")
        target = (page.parent / path).resolve() if path else page
        if not target.exists():
            broken.append(f"{link}: no such file")
        elif anchor and target.suffix == ".md" and anchor not in anchors(target):
            broken.append(f"{link}: no heading with that anchor")
    assert broken == []


def yaml_blocks(page: Path) -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", page.read_text(encoding="utf-8"), flags=re.S)


@pytest.mark.parametrize("page", [p for p in PAGES if yaml_blocks(p)], ids=lambda p: str(p.relative_to(REPO)))
def test_every_yaml_example_loads_as_a_config(page, tmp_path):
    for index, block in enumerate(yaml_blocks(page)):
        path = tmp_path / f"block-{index}.yaml"
        path.write_text(block, encoding="utf-8")
        assert_config_loads_but_for_user_files(str(path))  # a mistake in it raises ConfigError, naming the key


def test_the_site_lists_every_page_and_only_pages_that_exist():
    nav = yaml.safe_load((REPO / "mkdocs.yml").read_text(encoding="utf-8"))["nav"]
    listed = sorted(next(iter(entry.values())) for entry in nav)
    assert listed == sorted(str(p.relative_to(DOC_DIR)) for p in DOC_DIR.rglob("*.md"))


def test_the_readme_is_a_front_door_that_opens_with_the_demo_and_the_tests():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 250
    commands = re.findall(r"^ {4}(.+)$", readme, flags=re.M)
    assert commands[0].endswith("tokenmill run --sample --output out/demo")
    assert commands[1].endswith("python -m pytest -q")
    index = (DOC_DIR / "index.md").read_text(encoding="utf-8")
    assert re.findall(r"^ {4}(.+)$", index, flags=re.M)[:2] == commands[:2]  # the site's start page says the same


def every_command():
    """(path, click command) of every command and subcommand, loaded as `tokenmill` loads them."""
    ctx = click.Context(cli)
    for name in COMMANDS:
        command = cli.get_command(ctx, name)
        yield name, command
        for sub, subcommand in getattr(command, "commands", {}).items():
            yield f"{name} {sub}", subcommand


def help_of(path: str) -> str:
    result = CliRunner().invoke(cli, [*path.split(), "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("path", [path for path, _ in every_command()])
def test_every_commands_help_gives_each_options_default_and_its_docs_page(path):
    command = dict(every_command())[path]
    text = help_of(path)
    page = re.search(rf"Docs: {DOCS}(\S+)", text).group(1)
    file, _, anchor = page.partition("#")
    assert (DOC_DIR / file).is_file() and (not anchor or anchor in anchors(DOC_DIR / file)), page
    ctx = click.Context(command, info_name=path, parent=click.Context(cli, show_default=True))
    undocumented = []
    for param in command.params:
        if not isinstance(param, click.Option) or param.required or param.is_flag or param.multiple:
            continue  # required: no default to give; a flag is off and a repeatable option empty unless given
        record = param.get_help_record(ctx)
        if record is None or "default" not in record[1]:
            undocumented.append(param.opts[0])
    assert undocumented == []


def test_the_options_backed_by_config_keys_name_real_options_and_keys():
    commands = dict(every_command())
    for path, keys in OPTION_KEYS.items():
        names = {param.name for param in commands[path].params}
        for option, key in keys.items():
            assert option in names, (path, option)
            default_text(key)  # raises for a key the config does not have
    assert "[default: 0.65, or stages.langid.threshold in --config]" in " ".join(help_of("curate").split())
