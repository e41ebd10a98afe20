"""The plan as shell commands, for servers without Kubernetes: one script that, given a period and
a node, creates that node's MIG instances and starts its `vllm serve` processes on the devices the
plan's layout gives them (gpuopt.output.nodes), one port per replica."""

from __future__ import annotations

import shlex
from pathlib import Path

from gpuopt.errors import InvalidInputError, OutputError
from gpuopt.files import write_atomic
from gpuopt.output import engine_args, nodes as node_layout, schedule

FIRST_PORT = 8000

# nvidia-smi -L prints "GPU i: ..." and under it "  MIG <profile>  Device  k: (UUID: MIG-...)"
_MIG_UUID = r'''mig_uuid() {  # GPU index, MIG profile, k: the UUID of the k-th such instance on that GPU
  nvidia-smi -L | awk -v gpu="GPU $1:" -v prof="MIG $2 " -v k="$3" '
    index($0, gpu) == 1 {on = 1; next}
    /^GPU / {on = 0}
    on && index($0, prof) {if (n++ == k) {sub(/.*UUID: /, ""); sub(/\).*/, ""); print; exit}}'
}'''


def _replica_lines(state: node_layout.NodeState, services, groups) -> list[str]:
    lines, port = [], FIRST_PORT
    for owner, devices in state.whole:
        if owner in groups:
            sv, g = groups[owner]
            lines.append(engine_args.command_line(services[sv], g, ",".join(map(str, devices)), port) + " &")
            port += 1
        else:   # a training GPU
            lines.append(f"# GPU {','.join(map(str, devices))}: left free for training job {owner[1]!r}")
    for owner, device, profile, k in state.slices:
        sv, g = groups[owner]
        lines.append(engine_args.command_line(services[sv], g, f'"$(mig_uuid {device} {profile} {k})"', port) + " &")
        port += 1
    for owner, device in state.shares:
        sv, g = groups[owner]
        lines.append(engine_args.command_line(services[sv], g, str(device), port) + " &")
        port += 1
    return lines


def script(plan, scenario) -> str:
    """The shell script (bash) for every period and node of the plan."""
    if not plan.has_plan:
        raise InvalidInputError(f"plan is {plan.status}: there is nothing to deploy")
    services = {s.name: s for s in scenario.services}
    groups = {node_layout.group_key(sv, r): (sv, r) for sv, _, r in plan.groups()}
    layout = node_layout.layout(plan, scenario)
    when = {} if schedule.static(scenario) else {w.period: w for w in schedule.windows(scenario)}
    out = ["#!/usr/bin/env bash", f"# The plan for {scenario.name}, as vllm serve commands per period and node "
           "(written by gpuopt).", "# Usage: bash vllm-commands.sh PERIOD NODE   (stop the previous period's "
           "servers first)", "set -euo pipefail", _MIG_UUID, 'case "${1:-}/${2:-}" in']
    for p in scenario.periods:
        for (site, gpu), ns in sorted(layout.nodes.items()):
            for n in ns:
                st = layout.states[p.name][n.label]
                if st.gpus == 0:
                    continue
                w = when.get(p.name)
                out.append(f"  {shlex.quote(p.name)}/{n.label})   # {st.gpus} x {gpu} at {site}"
                           + (f"; from {w.cron!r} ({scenario.timezone}) for {w.minutes / 60:g} h" if w else ""))
                if st.shared > 1:
                    out.append(f"    # time-sliced {st.shared} ways: {st.shared} servers per GPU share its memory")
                for d, layout_name in enumerate(st.mig):
                    out.append(f"    sudo nvidia-smi -i {d} -mig 1")
                    out.append(f"    sudo nvidia-smi mig -i {d} -dci || true; sudo nvidia-smi mig -i {d} -dgi || true")
                    out.append(f"    sudo nvidia-smi mig -i {d} -cgi {layout_name.replace('+', ',')} -C")
                out += ["    " + ln for ln in _replica_lines(st, services, groups)] or ["    : # nothing runs here"]
                out.append("    wait ;;")
    out += ['  *) echo "usage: $0 PERIOD NODE" >&2; exit 2 ;;', "esac", ""]
    return "\n".join(out)


def export_commands(plan, scenario, directory: str | Path) -> Path:
    """Writes DIRECTORY/vllm-commands.sh; returns its path."""
    d = Path(directory)
    text = script(plan, scenario)
    try:
        d.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputError(f"cannot create {d}: {e.strerror}") from None
    return write_atomic(d / "vllm-commands.sh", text)


__all__ = ["export_commands", "script"]
