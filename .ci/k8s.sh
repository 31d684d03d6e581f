#!/usr/bin/env bash
# Validates examples/kubernetes: every built-in kind against the Kubernetes
# OpenAPI schemas (kubernetes-validate, strict: unknown fields are errors),
# the PodMonitor against the prometheus-operator CRD schema, and the
# consistency checks of .ci/k8s_check.py. Tools go in a venv of their own.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
    apt-get install -y python3-venv
fi
VENV=${K8S_VENV:-target/k8s-venv}
if [ ! -x "$VENV/bin/kubernetes-validate" ] || [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet \
        kubernetes-validate==1.37.0 \
        cloudcoil-models-prometheus-operator==0.80.1.0 \
        PyYAML==6.0.4
fi

DIR=examples/kubernetes
# The built-in kinds (PodMonitor is a CRD: kubernetes-validate has no schema
# for it and only warns, so it is checked by k8s_check.py instead).
"$VENV/bin/kubernetes-validate" --strict --kubernetes-version 1.33.0 \
    "$DIR/deployment.yaml" "$DIR/service.yaml" "$DIR/configmap.yaml" \
    "$DIR/hpa.yaml" "$DIR/prometheus-adapter.yaml"
"$VENV/bin/python" .ci/k8s_check.py "$DIR"
