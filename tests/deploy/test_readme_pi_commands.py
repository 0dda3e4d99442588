"""README's Raspberry Pi section is what pi-check runs: every command a user types there appears in
deploy/pi-check.sh (with the emulated Pi's substitutions: `cp` for scp, no sudo as root, the unit's
ExecStart for systemctl, the host's curl)."""
from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _pi_section_commands() -> list[str]:
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Raspberry Pi", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    return [line.split("#")[0].strip() for line in block.splitlines() if line.strip() and not line.startswith("#")]


def test_every_command_of_the_pi_section_is_exercised_by_pi_check():
    script = (REPO / "deploy" / "pi-check.sh").read_text()
    substitutions = {"sudo ": "", "scp ": "cp ", "pi@raspberrypi.local:": ""}
    expectations = {
        "fashion-edge pack": '"$FE" pack "$BUNDLE"',
        "cp dist/": 'cp "$DIST/$KIT"',
        "--extra onnx": "--extra onnx",
        "tar xzf": "tar xzf $KIT",
        "install.sh --enable-service": "install.sh",
        "install.sh --rollback": "install.sh --rollback",
        "edge-pi/install.sh": "install.sh --service-pid $SERVE_PID",   # an upgrade with the service running
        "curl": "curl -fsS --data-binary @",
        "/v1/classify": "/v1/classify",
        "fashion-edge doctor": "fashion-edge doctor --bundle",
        "fashion-edge predict": "fashion-edge predict",
        "apt install -y python3-venv": "python3-venv",
    }
    commands = _pi_section_commands()
    assert commands, "README's Raspberry Pi section has no ```bash block"
    for command in commands:
        for old, new in substitutions.items():
            command = command.replace(old, new)
        matched = [needle for key, needle in expectations.items() if key in command]
        assert matched, f"README command not covered by an expectation: {command}"
        for needle in matched:
            assert needle in script, f"pi-check does not run: {needle} (README: {command})"


def test_no_instruction_installs_fashion_edge_from_a_package_index():
    """fashion-edge is not published: `pip install fashion-edge...` would fail, or install someone else's."""
    from_index = re.compile(r"pip3? install\s+(-\S+\s+)*['\"]?fashion[-_]edge(\[|['\"\s]|$)")
    for path in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        for line in path.read_text().splitlines():
            assert not from_index.search(line), f"{path.name}: {line}"
