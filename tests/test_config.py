"""gazette.toml is one typed, validated object; bad keys and values are named."""

from pathlib import Path

import pytest

from builder.config import SiteConfig, load_config
from builder.errors import ConfigError


def write_config(tmp_path: Path, text: str) -> Path:
    (tmp_path / "gazette.toml").write_text(text, encoding="utf-8")
    return tmp_path


def test_missing_file_gives_defaults(tmp_path):
    config = load_config(tmp_path)
    assert config == SiteConfig(root=tmp_path)
    assert config.content_path == tmp_path / "content"
    assert config.output_path == tmp_path / "site"


def test_values_are_read_and_typed(tmp_path):
    config = load_config(write_config(tmp_path, """
title = "Caspian Wire"
base_url = "https://user.github.io/archive"
per_page = 10
allow_undated = true
duplicate_threshold = 1
tag_stoplist = ["Reuters"]
[source_aliases]
Trend = ["Trend News Agency", "trend.az"]
"""))
    assert config.title == "Caspian Wire"
    assert config.base_url == "https://user.github.io/archive/"
    assert config.base_path == "/archive/"
    assert config.per_page == 10
    assert config.allow_undated is True
    assert config.duplicate_threshold == 1.0
    assert config.tag_stoplist == ("Reuters",)
    assert config.source_aliases == {"Trend": ("Trend News Agency", "trend.az")}


@pytest.mark.parametrize("text, key", [
    ("titel = 'x'", "titel"),
    ("per_page = '20'", "per_page"),
    ("per_page = true", "per_page"),
    ("allow_undated = 1", "allow_undated"),
    ("tag_stoplist = 'Reuters'", "tag_stoplist"),
    ("source_aliases = ['Trend']", "source_aliases"),
    ("[source_aliases]\nTrend = [1]", "source_aliases.Trend"),
    ("base_url = 'user.github.io'", "base_url"),
    ("timezone = 'Mars/Olympus'", "timezone"),
    ("date_order = 'YMD'", "date_order"),
    ("per_page = 0", "per_page"),
    ("permalink = '/{year}/{title}/'", "permalink"),
    ("permalink = '/{year}/'", "permalink"),
    ("duplicate_threshold = 1.5", "duplicate_threshold"),
])
def test_bad_keys_and_values_name_the_key(tmp_path, text, key):
    with pytest.raises(ConfigError, match=f"'{key}'"):
        load_config(write_config(tmp_path, text))


def test_broken_toml_names_the_file(tmp_path):
    with pytest.raises(ConfigError, match="gazette.toml: not valid TOML"):
        load_config(write_config(tmp_path, "title = "))


def test_overrides_win_and_are_validated(tmp_path):
    write_config(tmp_path, "base_url = 'https://a.example/'")
    config = load_config(tmp_path, base_url="https://example.org/news", output_dir=None)
    assert config.base_url == "https://example.org/news/"
    assert config.output_dir == "site"
    with pytest.raises(ConfigError, match="'base_url'"):
        load_config(tmp_path, base_url="ftp://example.org/")


def test_config_is_frozen(tmp_path):
    config = load_config(tmp_path)
    with pytest.raises(AttributeError):
        config.title = "changed"  # type: ignore[misc]
