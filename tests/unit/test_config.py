"""Loading config.toml: errors name the file and the key; secrets come from the environment."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from server.config import ConfigError, config_from_dict, load_config

ROOT = Path(__file__).resolve().parents[2]


def demo() -> dict:
    return tomllib.loads((ROOT / "config.toml").read_text())


def test_the_demo_config_is_valid_and_realistic():
    config = load_config(ROOT / "config.toml")
    kinds = {service.kind for service in config.services}
    assert kinds == {"quick", "standard", "complex"}
    assert len(config.services) >= 4
    assert len(config.counters) == 6
    assert len({tuple(counter.services) for counter in config.counters}) > 1
    assert all(service.documents and set(service.name) == {"zh", "en"} for service in config.services)


def test_an_unknown_key_names_the_file_and_the_key(tmp_path):
    data = (ROOT / "config.toml").read_text().replace("[alerts]\n", "[alerts]\nidle_warning = 5\n")
    path = tmp_path / "branch.toml"
    path.write_text(data)
    with pytest.raises(ConfigError, match=r"branch\.toml: alerts\.idle_warning: Extra inputs are not permitted"):
        load_config(path)


def test_a_wrong_type_names_the_key():
    data = demo()
    data["services"][1]["expected_minutes"] = "four"
    with pytest.raises(ConfigError, match=r"x\.toml: services\[1\]\.expected_minutes"):
        config_from_dict(data, source="x.toml")


def test_a_counter_naming_an_unknown_service_is_refused():
    data = demo()
    data["counters"][2]["services"] = ["B", "Q"]
    with pytest.raises(ConfigError, match=r"counters\[2\]\.services\[1\]: unknown service 'Q'"):
        config_from_dict(data, source="x.toml")


def test_duplicate_service_codes_and_counter_numbers_are_refused():
    data = demo()
    data["services"].append(dict(data["services"][0]))
    with pytest.raises(ConfigError, match="duplicate service code 'A'"):
        config_from_dict(data)
    data = demo()
    data["counters"].append({"number": 1, "services": ["A"]})
    with pytest.raises(ConfigError, match="duplicate counter number 1"):
        config_from_dict(data)


def test_every_branch_language_needs_its_text():
    data = demo()
    data["services"][0]["documents"][0] = {"zh": "银行卡"}
    with pytest.raises(ConfigError, match=r"services\[0\]\.documents\[0\]: missing the 'en' text"):
        config_from_dict(data)


def test_an_unknown_time_zone_is_refused():
    data = demo()
    data["branch"]["timezone"] = "Mars/Olympus"
    with pytest.raises(ConfigError, match="branch.timezone"):
        config_from_dict(data)


def test_missing_file_and_bad_toml_say_so(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "none.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[branch\ncode = 1")
    with pytest.raises(ConfigError, match="bad.toml: not valid TOML"):
        load_config(bad)


def test_production_mode_needs_a_secret_key(monkeypatch):
    monkeypatch.delenv("CALLWISE_SECRET_KEY", raising=False)
    data = demo()
    data["server"]["mode"] = "production"
    with pytest.raises(ConfigError, match="server.secret_key: production mode needs a secret key"):
        config_from_dict(data)
    monkeypatch.setenv("CALLWISE_SECRET_KEY", "from-the-environment-" + "k" * 12)
    assert config_from_dict(data).secret_key == "from-the-environment-" + "k" * 12


@pytest.mark.parametrize("key", ["k", "k" * 31])
def test_production_refuses_a_short_secret_key(monkeypatch, key):
    """Issue 16, finding 10: a 1-character secret key was accepted."""
    monkeypatch.setenv("CALLWISE_SECRET_KEY", key)
    data = demo()
    data["server"]["mode"] = "production"
    with pytest.raises(ConfigError, match=f"server.secret_key: the secret key \\(CALLWISE_SECRET_KEY\\) has "
                                          f"{len(key)} characters; production needs at least 32"):
        config_from_dict(data)
    monkeypatch.delenv("CALLWISE_SECRET_KEY")
    data["server"]["secret_key"] = key
    with pytest.raises(ConfigError, match=r"\(server.secret_key\) has"):
        config_from_dict(data)
    data["server"]["secret_key"] = "k" * 32
    assert config_from_dict(data).secret_key == "k" * 32
    data["server"]["mode"] = "demo"  # demo mode keeps any key (or makes its own)
    data["server"]["secret_key"] = key
    assert config_from_dict(data).secret_key == key


def test_the_environment_secret_wins_over_the_file(monkeypatch):
    data = demo()
    data["server"]["secret_key"] = "from-the-file"
    monkeypatch.delenv("CALLWISE_SECRET_KEY", raising=False)
    assert config_from_dict(data).secret_key == "from-the-file"
    monkeypatch.setenv("CALLWISE_SECRET_KEY", "from-the-environment")
    assert config_from_dict(data).secret_key == "from-the-environment"


def test_production_refuses_the_manual_clock(monkeypatch):
    monkeypatch.setenv("CALLWISE_SECRET_KEY", "k" * 32)
    data = demo()
    data["server"]["mode"] = "production"
    data["clock"] = {"mode": "manual"}
    with pytest.raises(ConfigError, match="clock.mode"):
        config_from_dict(data)


def test_config_path_defaults_to_the_environment(monkeypatch, tmp_path):
    path = tmp_path / "elsewhere.toml"
    path.write_text((ROOT / "config.toml").read_text().replace('code = "demo"', 'code = "elsewhere"'))
    monkeypatch.setenv("CALLWISE_CONFIG", str(path))
    assert load_config().branch.code == "elsewhere"


def test_the_display_section_sets_the_idle_time_and_the_voice():
    data = demo()
    assert (load_config(ROOT / "config.toml").display.idle_after_s, demo()["display"]["voice"]) == (600, "auto")
    data["display"] = {"idle_after_s": 120, "voice": "server"}
    display = config_from_dict(data).display
    assert (display.idle_after_s, display.voice) == (120, "server")
    data["display"] = {"voice": "loud"}
    with pytest.raises(ConfigError, match=r"display\.voice"):
        config_from_dict(data)
    data["display"] = {"idle_after_s": 5}
    with pytest.raises(ConfigError, match=r"display\.idle_after_s"):
        config_from_dict(data)
