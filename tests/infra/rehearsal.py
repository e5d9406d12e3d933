"""The boot rehearsal: an instance's cfn-init steps, run on this machine in a temporary root.

:func:`boot` takes a fleet's cfn-init metadata (references already evaluated against the
moto deployment) and does what cfn-init and systemd do on the instance, in order:
``sources`` are downloaded from (moto's) S3 and unpacked, ``files`` written, ``commands``
run, ``services`` started from their unit files (without systemd: the unit's ExecStart,
WorkingDirectory, EnvironmentFile and StandardOutput are honoured by this runner), then the
``verify`` config's commands. Every path is moved under the root; the boot scripts take the
root from ``SCALEDREF_ROOT``.

What is not rehearsed, and why, is data: :data:`HOST_ONLY_COMMANDS` and :data:`HOST_ONLY_PACKAGES`.
What the rehearsal gives a service that an instance would get elsewhere is the caller's ``service_env``.

One shortcut, to keep the rehearsal's time down: both fleets run the same ``install-services``
on the same two code assets, so when a second instance's command and sources are identical
to an instance already booted (``same_install_as``), it gets a hard-linked copy of that
instance's virtualenv instead of building the same one again; its steps say so.
"""

from __future__ import annotations

import io
import os
import shlex
import shutil
import signal
import subprocess
import sys
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

HOST_ONLY_COMMANDS = {
    "10-cloudwatch-agent": "starts the CloudWatch agent, an Amazon Linux package; its configuration is checked instead",
    "30-systemd-reload": "there is no systemd here: the runner starts the unit's ExecStart itself",
}
HOST_ONLY_PACKAGES = {
    "python3.11": "this machine's Python 3.11 (SCALEDREF_PYTHON) builds the virtualenv",
    "python3.11-pip": "part of this machine's Python 3.11",
    "amazon-cloudwatch-agent": "Amazon Linux only; its configuration is checked instead",
    "logrotate": "rotation is the host's; its configuration is delivered as a file",
}
ServiceEnv = Callable[[dict[str, str]], Mapping[str, str]]
"""Given a service's environment from its unit, what the rehearsal overrides in it."""
INSTALL_COMMAND = "20-install-services"
VENV = "/opt/scaledref/venv"
CONFIG_KEYS = ("packages", "sources", "files", "commands", "services")
"""What cfn-init does in a config, in its order; a key outside this list fails the rehearsal."""


def rooted(root: Path, path: str) -> Path:
    """``path`` (absolute on the instance) under ``root``."""
    return root / path.lstrip("/")


def parse_env_file(text: str) -> dict[str, str]:
    """``KEY=value`` lines as systemd's EnvironmentFile reads them (comments and blank lines skipped)."""
    values = {}
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            key, _, value = stripped.partition("=")
            values[key.strip()] = value
    return values


def parse_unit(text: str) -> dict[str, list[str]]:
    """The ``[Service]`` section of a systemd unit: each key with its values in order."""
    section, service = "", dict[str, list[str]]()
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("["):
            section = stripped
        elif section == "[Service]" and stripped and not stripped.startswith("#"):
            key, _, value = stripped.partition("=")
            service.setdefault(key, []).append(value)
    return service


@dataclass
class Booted:
    """One rehearsed instance: its root, what ran, its service process and the service's environment."""

    root: Path
    steps: list[str] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)
    commands: dict[str, str] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    service_env: dict[str, str] = field(default_factory=dict)
    logs: dict[str, Path] = field(default_factory=dict)

    def stop(self, timeout: float = 30.0) -> dict[str, int]:
        """SIGTERM every service (as ``systemctl stop`` does) and wait; their exit codes."""
        codes = {}
        for name, process in self.processes.items():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
            try:
                codes[name] = process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                codes[name] = process.wait()
        return codes


def boot(
    init: Mapping[str, Any],
    config_sets: list[str],
    root: Path,
    *,
    s3: Any,
    command_env: Mapping[str, str],
    service_env: ServiceEnv,
    same_install_as: Booted | None = None,
) -> Booted:
    """Run the configs of ``config_sets`` (in order) from ``init``; see the module docstring.

    ``command_env`` is added to the commands' environment; ``service_env(unit_env)`` gives what
    a service's environment (from its unit) is overridden with. Raises ``AssertionError``
    naming a failed step.
    """
    booted = Booted(root)
    context = {"s3": s3, "command_env": command_env, "service_env": service_env, "same_install_as": same_install_as}
    for config_set in config_sets:
        for config_name in init["configSets"][config_set]:
            config = init[config_name]
            unknown = set(config) - set(CONFIG_KEYS)
            assert not unknown, f"cfn-init config {config_name} has steps the rehearsal does not know: {unknown}"
            for key in CONFIG_KEYS:
                if key in config:
                    _STEPS[key](booted, config[key], **context)
    return booted


def _packages(booted: Booted, packages: Mapping[str, Any], **_: Any) -> None:
    for manager, names in packages.items():
        assert manager == "yum", f"package manager {manager} is not Amazon Linux's"
        unknown = set(names) - set(HOST_ONLY_PACKAGES)
        assert not unknown, f"packages the rehearsal has no stand-in for: {unknown}"
        booted.steps.extend(f"package {name} (host)" for name in names)


def _sources(booted: Booted, sources: Mapping[str, str], *, s3: Any, **_: Any) -> None:
    for target, url in sources.items():
        parsed = urlparse(url)
        bucket, _slash, key = parsed.path.lstrip("/").partition("/")
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        with zipfile.ZipFile(io.BytesIO(body)) as archive:
            archive.extractall(rooted(booted.root, target))
        booted.sources[target] = url
        booted.steps.append(f"source {target}")


def _files(booted: Booted, files: Mapping[str, Any], **_: Any) -> None:
    for path, spec in files.items():
        destination = rooted(booted.root, path)
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_text(spec["content"])
        destination.chmod(int(spec.get("mode", "000644"), 8))
        booted.steps.append(f"file {path}")


def _commands(
    booted: Booted,
    commands: Mapping[str, Any],
    *,
    command_env: Mapping[str, str],
    same_install_as: Booted | None,
    **_: Any,
) -> None:
    for key in sorted(commands):
        command = commands[key]
        booted.commands[key] = command["command"]
        if key in HOST_ONLY_COMMANDS:
            booted.steps.append(f"command {key} (host)")
            continue
        if key == INSTALL_COMMAND and _copied_install(booted, same_install_as):
            booted.steps.append(f"command {key} (same as {same_install_as.root.name})")  # type: ignore[union-attr]
            continue
        argv = shlex.split(command["command"])
        argv[0] = str(rooted(booted.root, argv[0]))
        env = {"PATH": os.environ["PATH"], **command.get("env", {}), **command_env, "SCALEDREF_ROOT": str(booted.root)}
        result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=240, check=False)
        assert result.returncode == 0, f"command {key} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        booted.steps.append(f"command {key}")


def _copied_install(booted: Booted, other: Booted | None) -> bool:
    """Give ``booted`` a hard-linked copy of ``other``'s virtualenv if both ran the same install on the same code."""
    if other is None or other.commands.get(INSTALL_COMMAND) != booted.commands[INSTALL_COMMAND]:
        return False
    if other.sources != booted.sources or f"command {INSTALL_COMMAND}" not in other.steps:
        return False
    shutil.copytree(rooted(other.root, VENV), rooted(booted.root, VENV), symlinks=True, copy_function=os.link)
    rooted(booted.root, "/var/log/scaledref").mkdir(parents=True, exist_ok=True)
    return True


def _services(booted: Booted, services: Mapping[str, Any], *, service_env: ServiceEnv, **_: Any) -> None:
    for manager, units in services.items():
        assert manager == "systemd", f"service manager {manager}"
        for name, spec in units.items():
            assert spec == {"enabled": True, "ensureRunning": True}, f"{name}: {spec}"
            _start(booted, name, service_env)
            booted.steps.append(f"service {name}")


def _start(booted: Booted, name: str, overrides: ServiceEnv) -> None:
    """Start unit ``name`` as systemd would: its ExecStart, in its WorkingDirectory, with its EnvironmentFile."""
    unit = parse_unit(rooted(booted.root, f"/etc/systemd/system/{name}.service").read_text())
    (exec_start,) = unit["ExecStart"]
    argv = shlex.split(exec_start)
    argv[0] = str(rooted(booted.root, argv[0]))
    env: dict[str, str] = {}
    for env_file in unit.get("EnvironmentFile", []):
        env |= parse_env_file(rooted(booted.root, env_file.lstrip("-")).read_text())
    runtime = rooted(booted.root, "/run")
    for directory in unit.get("RuntimeDirectory", []):
        shutil.rmtree(runtime / directory, ignore_errors=True)
        (runtime / directory).mkdir(parents=True)
    # %t is systemd's specifier for the runtime directory (/run for system services).
    env |= dict(value.replace("%t", str(runtime)).split("=", 1) for value in unit.get("Environment", []))
    booted.service_env = {**env, **overrides(env)}
    outputs = {unit[key][0] for key in ("StandardOutput", "StandardError")}
    assert len(outputs) == 1, f"{name}: one log file"
    assert next(iter(outputs)).startswith("append:"), f"{name}: the log file is appended to"
    log = rooted(booted.root, next(iter(outputs)).removeprefix("append:"))
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as output:
        booted.processes[name] = subprocess.Popen(
            argv,
            cwd=rooted(booted.root, unit["WorkingDirectory"][0]),
            env={"PATH": os.environ["PATH"], **booted.service_env},
            stdout=output,
            stderr=output,
        )
    booted.logs[name] = log


_STEPS: dict[str, Callable[..., None]] = {
    "packages": _packages,
    "sources": _sources,
    "files": _files,
    "commands": _commands,
    "services": _services,
}


def base_python() -> str:
    """The Python 3.11 interpreter this machine's virtualenv was made from (the stand-in for python3.11)."""
    return str(Path(sys.base_prefix) / "bin" / f"python{sys.version_info.major}.{sys.version_info.minor}")
