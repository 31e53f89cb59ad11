#!/usr/bin/env bash
# Regenerates Tests/ReferenceCases/*.json with the real scikit-learn (Scripts/make_reference_cases.py).
# The venv is the project's .venv, made by Scripts/bootstrap.sh, which pip-installs the pinned
# scikit-learn and NumPy of Scripts/requirements.txt. Commit the regenerated files.
set -euo pipefail
cd "$(dirname "$0")/.."
bash Scripts/bootstrap.sh
.venv/bin/python3 Scripts/make_reference_cases.py
