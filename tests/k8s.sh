#!/usr/bin/env bash
# The Kubernetes manifests (config/deploy/k8s/): validated offline against the bundled API schemas of
# kubernetes-validate (PyPI, installed into a venv when missing), strict (no unknown fields), then checked
# for consistency with zipper's settings: probes on the admin port, terminationGracePeriodSeconds covering
# preStop + shutdown_grace_secs, memory request and limit covering the memory budget.
# Usage: bash tests/k8s.sh
set -euo pipefail
cd "$(dirname "$0")/.."

k8s_version="1.33.0"
venv="${ZIPPER_K8S_VENV:-$HOME/.cache/zipper-k8s-venv}"
if [ ! -x "$venv/bin/kubernetes-validate" ]; then
  echo "== k8s: installing kubernetes-validate into $venv"
  python3 -m venv "$venv"
  if ! "$venv/bin/pip" install -q kubernetes-validate; then
    echo "k8s test FAILED: pip could not install kubernetes-validate (is PyPI reachable?)" >&2
    exit 1
  fi
fi

echo "== k8s: kubernetes-validate --strict -k $k8s_version"
"$venv/bin/kubernetes-validate" --strict --no-warn -k "$k8s_version" config/deploy/k8s/*.yaml

echo "== k8s: consistency with zipper's settings"
"$venv/bin/python" - <<'PY'
import glob, sys, yaml

docs = {}
for path in sorted(glob.glob("config/deploy/k8s/*.yaml")):
    for doc in yaml.safe_load_all(open(path)):
        docs[doc["kind"]] = doc
want = {"Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget", "Secret", "NetworkPolicy"}
missing = want - docs.keys()
assert not missing, f"missing manifests: {missing}"

MI = 1024 * 1024
def mib(q):
    units = {"Ki": 1 / 1024, "Mi": 1, "Gi": 1024}
    for u, f in units.items():
        if q.endswith(u):
            return float(q[: -len(u)]) * f
    return float(q) / MI

pod = docs["Deployment"]["spec"]["template"]["spec"]
c = pod["containers"][0]
env = {e["name"]: e.get("value") for e in c["env"]}
ports = {p["name"]: p["containerPort"] for p in c["ports"]}
assert env["ZIPPER_ADMIN_LISTEN"].endswith(f":{ports['admin']}"), "admin port"
assert env["ZIPPER_LISTEN"].endswith(f":{ports['http']}"), "public port"
for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
    get = c[probe]["httpGet"]
    assert get["path"] == path and get["port"] in ("admin", ports["admin"]), probe
grace = int(env["ZIPPER_SHUTDOWN_GRACE_SECS"])
pre_stop = c["lifecycle"]["preStop"]["sleep"]["seconds"]
term = pod["terminationGracePeriodSeconds"]
assert term >= pre_stop + grace, f"terminationGracePeriodSeconds {term} < preStop {pre_stop} + grace {grace}"
assert term <= pre_stop + grace + 30, f"terminationGracePeriodSeconds {term} far above what the drain needs"
budget = int(env["ZIPPER_MEMORY_BUDGET_BYTES"]) / MI
downloads = int(env["ZIPPER_MAX_CONCURRENT_DOWNLOADS"])
# Per-connection state outside the budget: ~110 KiB per download (README, Crowd benchmark).
need = budget + downloads * 110 / 1024
req = mib(c["resources"]["requests"]["memory"])
lim = mib(c["resources"]["limits"]["memory"])
assert req >= need, f"memory request {req} MiB below budget + connection state {need:.0f} MiB"
assert lim >= req and lim <= 2 * need, f"memory limit {lim} MiB"
assert pod["securityContext"]["runAsUser"] == 10001 and pod["securityContext"]["runAsNonRoot"]
assert c["securityContext"]["readOnlyRootFilesystem"]
svc = docs["Service"]["spec"]
assert svc["selector"] == docs["Deployment"]["spec"]["selector"]["matchLabels"]
assert {p["targetPort"] for p in svc["ports"]} == {"http"}, "the Service publishes downloads only"
hpa = docs["HorizontalPodAutoscaler"]["spec"]
assert hpa["scaleTargetRef"]["name"] == docs["Deployment"]["metadata"]["name"]
assert hpa["minReplicas"] >= 2 and docs["PodDisruptionBudget"]["spec"]["maxUnavailable"] == 1
secret = docs["Secret"]
assert [e for e in c["env"] if e["name"] == "ZIPPER_KEYS"][0]["valueFrom"]["secretKeyRef"]["name"] == secret["metadata"]["name"]
print(f"   budget {budget:.0f} MiB + {downloads} downloads -> need ~{need:.0f} MiB: request {req:.0f} Mi, limit {lim:.0f} Mi; "
      f"termination grace {term} s >= preStop {pre_stop} s + shutdown grace {grace} s")
PY
echo "== k8s: passed"
