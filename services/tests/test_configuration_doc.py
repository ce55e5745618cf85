"""docs/configuration.md documents every setting, and the settings sources behave as documented.

Run this file as a script to print the reference tables from the settings model, or with
``--write`` to replace the tables in docs/configuration.md (descriptions come from the model)::

    uv run python services/tests/test_configuration_doc.py --write
"""

from __future__ import annotations

import json
import re
import sys
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import pytest
from drmkit.settings import Settings, default_state_dir, load_settings
from pydantic import BaseModel, SecretStr, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "configuration.md"
ENV_PREFIX = "DRMKIT_"
# Options whose default depends on the machine; the doc describes them in words.
COMPUTED_DEFAULTS = {default_state_dir: "`$XDG_STATE_HOME/drmkit` (`~/.local/state/drmkit`)"}


@dataclass(frozen=True)
class Option:
    path: tuple[str, ...]
    field: FieldInfo

    @property
    def toml_key(self) -> str:
        return ".".join(self.path)

    @property
    def env_var(self) -> str:
        return ENV_PREFIX + "__".join(self.path).upper()

    @property
    def type_text(self) -> str:
        return render_type(self.field.annotation)

    @property
    def default_text(self) -> str:
        factory = self.field.default_factory
        if factory is not None:
            if factory in COMPUTED_DEFAULTS:
                return COMPUTED_DEFAULTS[factory]
            return render_value(factory())  # type: ignore[call-arg]
        if self.field.default is PydanticUndefined:
            return "required"
        return render_value(self.field.default)

    def row(self) -> str:
        description = (self.field.description or "").replace("``", "`")
        description = description.replace("|", "\\|").replace("\n", " ")
        return (
            f"| `{self.toml_key}` | {self.type_text} | {self.default_text} | "
            f"`{self.env_var}` | {description} |"
        )


def _model_of(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def iter_options(model: type[BaseModel], prefix: tuple[str, ...] = ()) -> list[Option]:
    options: list[Option] = []
    for name, field in model.model_fields.items():
        nested = _model_of(field.annotation)
        if nested is not None:
            options.extend(iter_options(nested, (*prefix, name)))
        else:
            options.append(Option((*prefix, name), field))
    return options


def render_type(annotation: Any) -> str:
    origin = get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        inner = " \\| ".join(render_type(a) for a in args)
        return f"{inner} (optional)" if len(args) < len(get_args(annotation)) else inner
    if origin is Literal:
        return " \\| ".join(f'`"{v}"`' for v in get_args(annotation))
    if origin in (list, tuple, set, frozenset):
        (item, *_) = get_args(annotation) or (Any,)
        return f"list of {render_type(item)}"
    if annotation is SecretStr:
        return "secret string"
    if annotation is Path:
        return "path"
    names = {str: "string", int: "integer", float: "number", bool: "boolean"}
    if annotation in names:
        return names[annotation]
    return getattr(annotation, "__name__", str(annotation))


def render_value(value: Any) -> str:
    if value is None:
        return "unset"
    if isinstance(value, Path):
        value = str(value)
    if isinstance(value, (list, tuple, frozenset, set)):
        value = list(value)
    return f"`{json.dumps(value)}`"


def generated_tables() -> str:
    by_section: dict[str, list[Option]] = {}
    for option in iter_options(Settings):
        by_section.setdefault(".".join(option.path[:-1]), []).append(option)
    parts = []
    for section, options in by_section.items():
        parts.append(f"### `[{section}]`" if section else "### Top level")
        parts.append("")
        parts.append("| TOML key | Type | Default | Environment variable | Meaning |")
        parts.append("|---|---|---|---|---|")
        parts.extend(option.row() for option in options)
        parts.append("")
    return "\n".join(parts)


# ----------------------------------------------------------------------------- doc completeness

ROW_RE = re.compile(r"^\| `([a-z0-9_.]+)` \| (.+?) \| (.+?) \| `(DRMKIT_[A-Z0-9_]+)` \|", re.M)


def doc_rows() -> dict[str, tuple[str, str, str]]:
    rows: dict[str, tuple[str, str, str]] = {}
    for key, type_text, default_text, env_var in ROW_RE.findall(DOC.read_text()):
        assert key not in rows, f"{key} is documented twice"
        rows[key] = (type_text, default_text, env_var)
    return rows


def test_every_option_is_documented_with_type_default_and_variable() -> None:
    rows = doc_rows()
    missing = [o.toml_key for o in iter_options(Settings) if o.toml_key not in rows]
    assert not missing, f"docs/configuration.md lacks {missing}; run this test file with --write"
    for option in iter_options(Settings):
        type_text, default_text, env_var = rows[option.toml_key]
        assert env_var == option.env_var, option.toml_key
        assert type_text == option.type_text, option.toml_key
        assert default_text == option.default_text, option.toml_key


def test_doc_names_no_option_that_does_not_exist() -> None:
    known = {o.toml_key for o in iter_options(Settings)}
    assert set(doc_rows()) - known == set()
    known_env = {o.env_var for o in iter_options(Settings)} | {"DRMKIT_CONFIG"}
    named_env = set(re.findall(r"\bDRMKIT_[A-Z0-9_]*[A-Z0-9]\b", DOC.read_text()))
    assert named_env - known_env == set(), "the doc names environment variables that do not exist"


def test_doc_example_toml_is_valid_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocks = re.findall(r"```toml\n(.*?)```", DOC.read_text(), re.S)
    assert blocks, "the doc has no ```toml example"
    for block in blocks:
        path = tmp_path / "example.toml"
        path.write_text(block)
        isolate(monkeypatch, tmp_path)
        monkeypatch.setenv("DRMKIT_CONFIG", str(path))
        load_settings()  # raises on unknown keys or bad values


# ----------------------------------------------------------------------------- source behaviour


def isolate(monkeypatch: pytest.MonkeyPatch, cwd: Path) -> None:
    """No DRMKIT_* from the caller's environment, no drmkit.toml from the caller's directory."""
    import os

    for name in list(os.environ):
        if name.upper().startswith(ENV_PREFIX):
            monkeypatch.delenv(name)
    monkeypatch.chdir(cwd)


@pytest.fixture
def clean(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    isolate(monkeypatch, tmp_path)
    return tmp_path


def test_defaults_work_with_nothing_configured(clean: Path) -> None:
    settings = load_settings()
    assert settings.license_server.port == 8787
    assert settings.logging.level == "INFO"


def test_toml_file_named_by_drmkit_config_is_read(
    clean: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = clean / "elsewhere" / "custom.toml"
    config.parent.mkdir()
    config.write_text(
        '[license_server]\nport = 9001\nhost = "0.0.0.0"\n[logging]\nlevel = "debug"\n'
    )
    monkeypatch.setenv("DRMKIT_CONFIG", str(config))
    settings = load_settings()
    assert (settings.license_server.port, settings.license_server.host) == (9001, "0.0.0.0")
    assert settings.logging.level == "DEBUG"


def test_drmkit_toml_in_the_working_directory_is_read(clean: Path) -> None:
    (clean / "drmkit.toml").write_text("[license_server]\nmax_body_bytes = 1024\n")
    assert load_settings().license_server.max_body_bytes == 1024


def test_environment_beats_toml_and_nested_delimiter_patches_one_field(
    clean: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (clean / "drmkit.toml").write_text('[license_server]\nport = 9001\nhost = "10.0.0.1"\n')
    monkeypatch.setenv("DRMKIT_LICENSE_SERVER__PORT", "9002")
    settings = load_settings()
    assert settings.license_server.port == 9002  # env wins
    assert settings.license_server.host == "10.0.0.1"  # the rest of the TOML section stays


def test_nested_env_on_defaults_keeps_other_defaults(
    clean: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DRMKIT_LICENSE_SERVER__TOKEN", "t0ken")
    settings = load_settings()
    assert settings.license_server.token is not None
    assert settings.license_server.token.get_secret_value() == "t0ken"
    assert "t0ken" not in repr(settings)  # secrets stay out of logs and reprs
    assert settings.license_server.port == 8787


def test_keyword_overrides_beat_environment(clean: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRMKIT_STATE_DIR", str(clean / "from-env"))
    assert load_settings(state_dir=clean / "kw").state_dir == clean / "kw"


@pytest.mark.parametrize(
    "toml",
    [
        "unknown_top_level = 1\n",
        "[license_server]\nprot = 1\n",
        "[no_such_section]\nx = 1\n",
        '[logging]\nlevel = "LOUD"\n',
        "[license_server]\nport = 70000\n",
    ],
)
def test_unknown_keys_and_bad_values_in_toml_are_rejected(
    clean: Path, monkeypatch: pytest.MonkeyPatch, toml: str
) -> None:
    (clean / "drmkit.toml").write_text(toml)
    with pytest.raises(ValidationError):
        load_settings()


def test_unknown_nested_env_variable_is_rejected(
    clean: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DRMKIT_LICENSE_SERVER__PROT", "1")
    with pytest.raises(ValidationError, match="prot"):
        load_settings()


def test_missing_drmkit_config_file_is_a_clear_error(
    clean: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DRMKIT_CONFIG", str(clean / "nope.toml"))
    with pytest.raises(FileNotFoundError, match=r"DRMKIT_CONFIG names .*nope\.toml"):
        load_settings()


def test_invalid_toml_syntax_is_an_error(clean: Path) -> None:
    (clean / "drmkit.toml").write_text("[license_server\nport = 1\n")
    with pytest.raises(Exception, match=r"(?i)toml|expected"):
        load_settings()


def write_tables() -> None:
    """Replace the doc's reference tables (from its first ``### Top level`` to the end)."""
    text = DOC.read_text()
    marker = "### Top level"
    DOC.write_text(text[: text.index(marker)] + generated_tables())


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        write_tables()
    else:
        sys.stdout.write(generated_tables())


def _env_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple, set, frozenset, dict)):
        return json.dumps(list(value) if not isinstance(value, dict) else value)
    return str(value)


def _value_at(settings: Settings, path: tuple[str, ...]) -> Any:
    value: Any = settings
    for name in path:
        value = getattr(value, name)
    return value


def test_every_documented_variable_is_parsed_from_the_environment(
    clean: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Set each option's variable to its default's text: every type's env parsing works."""
    defaults = load_settings()
    expected: dict[tuple[str, ...], Any] = {}
    for option in iter_options(Settings):
        value = _value_at(defaults, option.path)
        text = _env_text(value)
        if text is None or isinstance(value, SecretStr):
            continue
        monkeypatch.setenv(option.env_var, text)
        expected[option.path] = value
    assert expected, "no option was set"
    from_env = load_settings()
    for path, value in expected.items():
        assert _value_at(from_env, path) == value, ".".join(path)
