"""The deployment examples load with the current settings."""

from pathlib import Path

import yaml

from ampere.settings import Settings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def test_example_config_is_valid(monkeypatch):
    monkeypatch.setenv("AMPERE_CONFIG", str(DEPLOY / "ampere.example.yaml"))
    s = Settings()
    assert s.limits.max_jump_s == 10 and s.retry.give_up_s == 0 and s.worker.web_port == 0


def test_compose_file_parses_and_workers_restart():
    doc = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    assert doc["services"]["worker"]["restart"] == "on-failure"
