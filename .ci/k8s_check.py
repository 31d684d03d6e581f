"""Checks examples/kubernetes beyond what kubernetes-validate covers.

- The PodMonitor against the prometheus-operator CRD schema, strictly: the
  cloudcoil models are generated from the CRDs; pydantic ignores unknown
  fields, so the model is dumped back and must equal the input (a typo'd
  field is dropped and the two differ).
- The ConfigMap's policy.toml equals examples/kubernetes/policy.toml (the
  file the Rust policy tests parse), so the deployed policy is a tested one.
- The prometheus-adapter rules: only the adapter's keys, every series they
  query is a family of the runtime's exposition (the README's generated
  metric table, with its labels), and every custom metric the HPA reads is
  produced by a rule.
"""

import re
import sys
import pathlib
import yaml
from cloudcoil.models.prometheus_operator import v1

DIR = pathlib.Path(sys.argv[1])
failures = []


def first_difference(a, b, path="$"):
    if type(a) is not type(b):
        return path
    if isinstance(a, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                return f"{path}.{k}"
            d = first_difference(a[k], b[k], f"{path}.{k}")
            if d:
                return d
        return None
    if isinstance(a, list):
        if len(a) != len(b):
            return path
        for i, (x, y) in enumerate(zip(a, b)):
            d = first_difference(x, y, f"{path}[{i}]")
            if d:
                return d
        return None
    return None if a == b else path


def load(name):
    with open(DIR / name) as f:
        return list(yaml.safe_load_all(f))


for doc in load("podmonitor.yaml"):
    try:
        model = v1.PodMonitor.model_validate(doc)
    except Exception as e:  # pydantic's ValidationError names the field
        failures.append(f"podmonitor.yaml: {e}")
        continue
    back = model.model_dump(by_alias=True, exclude_unset=True, mode="json")
    diff = first_difference(doc, back)
    if diff:
        failures.append(f"podmonitor.yaml: {diff} is not a field of the PodMonitor CRD schema")
    else:
        print("INFO podmonitor.yaml passed against the PodMonitor CRD schema (monitoring.coreos.com/v1)")

(cm,) = load("configmap.yaml")
want = (DIR / "policy.toml").read_text()
if cm["data"].get("policy.toml") != want:
    failures.append("configmap.yaml: data.policy.toml differs from policy.toml; copy policy.toml into it")
else:
    print("INFO configmap.yaml carries policy.toml unchanged")

(adapter,) = load("prometheus-adapter.yaml")
config = yaml.safe_load(adapter["data"]["config.yaml"])
RULE_KEYS = {"seriesQuery", "seriesFilters", "resources", "name", "metricsQuery"}
# family -> its labels, from the README's table of the exposition.
readme = (DIR / "../../README.md").read_text()
families = {
    m.group(1): set(re.findall(r"`([a-z_]+)`", m.group(2)))
    for m in re.finditer(r"^\| `(perf_runtime_[a-z_]+)` \| [a-z]+ \| ([^|]*)\|", readme, re.M)
}
produced = set()
for i, rule in enumerate(config.get("rules", [])):
    extra = set(rule) - RULE_KEYS
    if extra:
        failures.append(f"prometheus-adapter.yaml: rules[{i}] has unknown keys {sorted(extra)}")
    for k in ("seriesQuery", "metricsQuery"):
        if k not in rule:
            failures.append(f"prometheus-adapter.yaml: rules[{i}] lacks {k}")
    m = re.match(r"([a-z_]+)\{(.*)\}", rule.get("seriesQuery", ""))
    series = m.group(1) if m else rule.get("seriesQuery", "")
    family = re.sub(r"_(bucket|sum|count)$", "", series)
    if family not in families:
        failures.append(f"prometheus-adapter.yaml: rules[{i}] queries {series}, which the runtime does not export")
    else:
        for label in re.findall(r"([a-z_]+)\s*[!=]", m.group(2) if m else ""):
            if label not in families[family] | {"namespace", "pod"}:
                failures.append(f"prometheus-adapter.yaml: rules[{i}]: {family} has no label {label}")
    produced.add(rule.get("name", {}).get("as") or rule.get("name", {}).get("matches", "").strip("^$"))

(hpa,) = load("hpa.yaml")
for m in hpa["spec"]["metrics"]:
    if m["type"] in ("Pods", "Object"):
        name = m[m["type"].lower()]["metric"]["name"]
        if name not in produced:
            failures.append(f"hpa.yaml: metric {name} is produced by no prometheus-adapter rule")
print(f"INFO the HPA's custom metrics all come from adapter rules: {sorted(produced)}")
print(f"INFO the adapter rules query {len(config.get('rules', []))} of the {len(families)} exported families")

for f in failures:
    print("ERROR", f)
sys.exit(1 if failures else 0)
