#!/usr/bin/env bash
# Install checkov into its own virtualenv, .venv-checkov at the repository root.
#
# checkov pins versions of boto3/botocore that conflict with aiobotocore (which s3saver needs),
# so it cannot live in .venv. tests/test_terraform.py looks for .venv-checkov/bin/checkov (or
# $S3SAVER_CHECKOV); run this script once before the tests (CI runs it from .ci/run).
#
# Usage: bash .ci/checkov.sh            # idempotent; reinstalls only when the pin changes
#        PYTHON=python3.12 bash .ci/checkov.sh
set -euo pipefail

CHECKOV_VERSION="${CHECKOV_VERSION:-3.3.30}"
PYTHON="${PYTHON:-python3}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv-checkov"
STAMP="$VENV/.installed-$CHECKOV_VERSION"

if [[ -f "$STAMP" && -x "$VENV/bin/checkov" ]]; then
    exit 0
fi
rm -rf "$VENV"
"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q "checkov==$CHECKOV_VERSION"
CKV_SKIP_PACKAGE_UPDATE_CHECK=true "$VENV/bin/checkov" --version >/dev/null
touch "$STAMP"
