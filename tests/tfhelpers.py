"""Running the Terraform CLI (and checkov) from the tests, offline.

Terraform never downloads anything here: the AWS provider comes from a local plugin directory
(``terraform init -plugin-dir``), the CLI configuration written for the tests allows nothing but
that directory, and the upgrade check is off. Each test works on a copy of ``terraform/`` in a
temporary directory, so no ``.terraform/``, lock file or state lands in the work tree.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.s3env import skip_or_fail

REPO = Path(__file__).resolve().parent.parent
MODULE_DIR = REPO / "terraform"

# Overrides, then the places a machine image or a developer usually keeps Terraform providers.
PLUGIN_DIR_ENV = "S3SAVER_TF_PLUGIN_DIR"
TERRAFORM_ENV = "S3SAVER_TERRAFORM"
CHECKOV_ENV = "S3SAVER_CHECKOV"
KNOWN_PLUGIN_DIRS = (
    "/opt/tf-plugins",
    "/usr/local/share/terraform/plugins",
    "/usr/share/terraform/plugins",
    "~/.terraform.d/plugins",
    "~/.local/share/terraform/plugins",
)
AWS_PROVIDER_GLOB = "registry.terraform.io/hashicorp/aws/*/*/terraform-provider-aws*"


def find_terraform() -> str | None:
    explicit = os.environ.get(TERRAFORM_ENV)
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    return shutil.which("terraform")


def find_plugin_dir() -> Path | None:
    """A directory laid out for ``-plugin-dir`` that holds hashicorp/aws."""
    candidates = [os.environ.get(PLUGIN_DIR_ENV, ""), *KNOWN_PLUGIN_DIRS]
    for candidate in candidates:
        if not candidate:
            continue
        path = Path(candidate).expanduser()
        if path.is_dir() and any(path.glob(AWS_PROVIDER_GLOB)):
            return path
    return None


def find_checkov() -> str | None:
    explicit = os.environ.get(CHECKOV_ENV)
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    venv = REPO / ".venv-checkov" / "bin" / "checkov"
    if os.access(venv, os.X_OK):
        return str(venv)
    return shutil.which("checkov")


def require_terraform() -> tuple[str, Path]:
    """The terraform binary and the plugin directory, or skip (fail under S3SAVER_STRICT_SKIPS)."""
    binary = find_terraform()
    if binary is None:
        skip_or_fail(f"terraform CLI not found (PATH or ${TERRAFORM_ENV})")
    plugin_dir = find_plugin_dir()
    if plugin_dir is None:
        skip_or_fail(
            "no local Terraform plugin directory with hashicorp/aws "
            f"(set ${PLUGIN_DIR_ENV}; looked in {', '.join(KNOWN_PLUGIN_DIRS)})"
        )
    assert binary is not None and plugin_dir is not None
    return binary, plugin_dir


def copy_module(dest: Path) -> Path:
    """Copy terraform/ (the module and its examples) to ``dest``, leaving local state behind."""
    shutil.copytree(
        MODULE_DIR,
        dest,
        ignore=shutil.ignore_patterns(".terraform", ".terraform.lock.hcl", "*.tfstate*"),
    )
    return dest


def provider_hcl(endpoint: str | None, region: str = "us-east-1") -> str:
    """An AWS provider block for moto at ``endpoint`` (or, for plans, an address that is never
    contacted: nothing in a plan of new resources calls AWS with these skips)."""
    url = endpoint or "http://127.0.0.1:9"
    services = ("s3", "iam", "sts", "kms", "lambda")
    endpoints = "\n".join(f'    {s} = "{url}"' for s in services)
    return f"""
provider "aws" {{
  region                      = "{region}"
  access_key                  = "testing"
  secret_key                  = "testing"
  s3_use_path_style           = true
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  skip_region_validation      = true

  endpoints {{
{endpoints}
  }}
}}
"""


@dataclass
class Terraform:
    binary: str
    plugin_dir: Path
    home: Path  # a private directory for the CLI configuration
    extra_env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        self.cli_config = self.home / "terraformrc"
        # Providers from the plugin directory only; never the registry.
        self.cli_config.write_text(
            "disable_checkpoint = true\n"
            "provider_installation {\n"
            f'  filesystem_mirror {{\n    path = "{self.plugin_dir}"\n  }}\n'
            "}\n"
        )

    def env(self) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("TF_", "AWS_")) and k != "CHECKPOINT_DISABLE"
        }
        env.update(
            TF_CLI_CONFIG_FILE=str(self.cli_config),
            CHECKPOINT_DISABLE="1",
            TF_IN_AUTOMATION="1",
            TF_INPUT="0",
            AWS_EC2_METADATA_DISABLED="true",
        )
        env.update(self.extra_env)
        return env

    def run(
        self, cwd: Path, *args: str, check: bool = True, timeout: float = 600
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [self.binary, *args],
            cwd=cwd,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"terraform {' '.join(args)} failed in {cwd} ({proc.returncode}):\n"
                f"{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
            )
        return proc

    def init(self, cwd: Path, *extra: str) -> None:
        self.run(cwd, "init", "-input=false", "-no-color", f"-plugin-dir={self.plugin_dir}", *extra)

    def validate(self, cwd: Path) -> dict[str, Any]:
        proc = self.run(cwd, "validate", "-json", "-no-color", check=False)
        result: dict[str, Any] = json.loads(proc.stdout)
        return result

    def plan_json(self, cwd: Path, *extra: str) -> dict[str, Any]:
        self.run(cwd, "plan", "-input=false", "-no-color", "-out=tfplan", *extra)
        proc = self.run(cwd, "show", "-json", "-no-color", "tfplan")
        result: dict[str, Any] = json.loads(proc.stdout)
        return result

    def outputs(self, cwd: Path) -> dict[str, Any]:
        proc = self.run(cwd, "output", "-json", "-no-color")
        return {k: v["value"] for k, v in json.loads(proc.stdout).items()}


def planned_resources(plan: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every planned resource (child modules included) by address, with its planned values."""
    found: dict[str, dict[str, Any]] = {}

    def walk(module: dict[str, Any]) -> None:
        for res in module.get("resources", []):
            found[res["address"]] = res.get("values", {})
        for child in module.get("child_modules", []):
            walk(child)

    walk(plan["planned_values"]["root_module"])
    return found


def module_call_hcl(name: str, source: str, args: dict[str, Any]) -> str:
    """A module block with arguments rendered as HCL literals (JSON is valid HCL for these)."""
    body = "\n".join(f"  {k} = {json.dumps(v)}" for k, v in args.items())
    return f'module "{name}" {{\n  source = "{source}"\n{body}\n}}\n'


def statements(policy_json: str) -> list[dict[str, Any]]:
    doc = json.loads(policy_json)
    stmts = doc["Statement"]
    return stmts if isinstance(stmts, list) else [stmts]


def as_list(value: str | Iterable[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)
