import pytest

from ccledger.config import ConfigError, load_config, local_timezone


def test_no_file_means_defaults(tmp_path):
    config = load_config(tmp_path / "missing.toml")
    assert config.timezone is None
    assert config.zone() == local_timezone()


def test_timezone(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('timezone = "Asia/Tokyo"\n')
    assert load_config(path).zone().key == "Asia/Tokyo"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('# comment\ntimezone = "Mars/Olympus"\n', r"config.toml:2: unknown timezone 'Mars/Olympus'"),
        ("timezone = 3\n", r"config.toml:1: timezone must be a string"),
        ("timezone = \n", r"config.toml: .*line 1"),
    ],
)
def test_errors_name_the_file_and_line(tmp_path, text, message):
    path = tmp_path / "config.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(path)


def test_machine_timezone_from_tz(monkeypatch):
    monkeypatch.setenv("TZ", "America/Denver")
    assert local_timezone().key == "America/Denver"
    monkeypatch.setenv("TZ", "Not/AZone")
    assert local_timezone().key  # falls back without failing
