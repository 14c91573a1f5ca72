#!/usr/bin/env bash
# Validates every manifest under deploy/ and examples/manifests/ against the official Kubernetes OpenAPI schemas,
# offline: kubernetes-validate (PyPI) ships the schemas, so no cluster and no network at
# validation time. Usage: deploy/validate.sh [KUBERNETES_VERSION]
set -euo pipefail
cd "$(dirname "$0")"
version="${1:-1.33.0}"
venv="${KUBERNETES_VALIDATE_VENV:-${TMPDIR:-/tmp}/kubernetes-validate-venv}"
if [ ! -x "$venv/bin/kubernetes-validate" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet 'kubernetes-validate>=1.31'
fi
shopt -s nullglob
files=(*.yaml *.yml ../examples/manifests/*.yaml)
if [ ${#files[@]} -eq 0 ]; then
    echo "validate.sh: no manifests found" >&2
    exit 1
fi
# --strict rejects fields the schema does not know (typos such as `contianers`).
"$venv/bin/kubernetes-validate" --strict --kubernetes-version "$version" "${files[@]}"
echo "validate.sh: ${#files[@]} file(s) valid against Kubernetes $version schemas"
