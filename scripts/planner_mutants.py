"""Deliberate faults in the cost, constraint, baseline, decomposition, simulator and manifest
code, each run against the tests that guard it: every one must fail a test (a surviving fault
is a missing test). Issue 12 lists the faults a review put in by hand; these are they and more.

    .venv/bin/python scripts/planner_mutants.py [N ...]     # from the repository root; N: only these

Each fault is put in, its tests run, and the file restored (scripts/faults.py)."""

import sys

import faults

MODEL = "python/gpuopt/planning/model.py"
IMPROVE = "python/gpuopt/planning/decompose/improve.py"
# (file, text, its faulty version, the test files that must catch it)
M = [
 (MODEL, "power_per_hour(watts, site.load, site.pue, site.usd_per_kwh)", "power_per_hour(watts, site.load, 1.0, site.usd_per_kwh)",
  "tests/test_bill.py"),
 (MODEL, "site.usd_per_kwh) + site.licence_usd_per_gpu_year / HOURS_PER_YEAR", "site.usd_per_kwh)", "tests/test_bill.py"),
 (MODEL, "return offer.rent_usd_per_hour + site.licence_usd_per_gpu_year / HOURS_PER_YEAR",
  "return offer.rent_usd_per_hour", "tests/test_bill.py"),
 (MODEL, "site.sharing_licence_usd_per_gpu_year / HOURS_PER_YEAR * self.hours[p] / H, f)", "0.0, f)",
  "tests/test_bill.py"),
 (MODEL, "                    m.term(own, t, 1.0)", "                    m.term(own, t, 0.0)",
  "tests/test_bill.py"),
 (MODEL, "amortised_per_hour(offer_capex(offer), offer.amortization_years)", "amortised_per_hour(offer_capex(offer), 3.0)",
  "tests/test_bill.py"),
 (MODEL, "rent_cost_per_hour(site, o) * self.hours[p] / H, r)", "rent_cost_per_hour(site, o), r)",
  "tests/test_bill.py"),
 (MODEL, "job.burst_usd_per_gpu_hour / (job.deadline_days * 24.0), burst)", "job.burst_usd_per_gpu_hour, burst)",
  "tests/test_bill.py"),
 (MODEL, "m.terms(np.tile(demand, n_c), v, np.repeat(capacity, n_p))",
  "m.terms(np.tile(demand, n_c), v, 2 * np.repeat(capacity, n_p))",
  "tests/test_bill.py"),
 (MODEL, "m.term(instances[prof], v, -float(L.count(prof)))", "m.term(instances[prof], v, -float(L.count(prof) + 1))",
  "tests/test_behaviour.py"),
 (MODEL, "f, -float(n))", "f, -float(n + 1))", "tests/test_bill.py tests/test_behaviour.py"),
 ("python/gpuopt/cost.py", "return watts / 1000.0 * load * pue * usd_per_kwh", "return watts / 1000.0 * load * usd_per_kwh",
  "tests/test_cost.py tests/test_bill.py"),
 ("python/gpuopt/planning/baselines.py", "fixed.by_service[k] = [min(usable,", "fixed.by_service[k] = [max(usable,",
  "tests/test_bill.py"),
 ("python/gpuopt/planning/candidates.py", "return float(measured[sl.parent]) * confirmed / whole * keep,",
  "return confirmed * CONFIRMED_SHARE * keep,", "tests/test_bill.py tests/test_plans_hold.py"),
 ("python/gpuopt/planning/candidates.py", "return float(measured[key]) * keep,", "return confirmed * CONFIRMED_SHARE * keep,",
  "tests/test_plans_hold.py"),
 ("python/gpuopt/planning/decompose/benders.py", "slope_b[key] = min(total, price_of)", "slope_b[key] = total",
  "tests/test_benders.py tests/test_behaviour.py"),
 ("python/gpuopt/planning/solve.py", 'return "optimal" if cost - bound <= relative_gap * cost else "feasible"',
  'return "optimal"', "tests/test_behaviour.py"),
 ("python/gpuopt/estimation/simulate.py", "/ (out_tokens[multi] - 1)", "/ out_tokens[multi]", "tests/test_bill.py"),
 ("python/gpuopt/output/k8s.py", "replicas=g.replicas[first], selector=", "replicas=min(g.replicas.values()), selector=",
  "tests/test_bill.py"),
 # issue 13: stability prices, the buyer's bill, measured capacities under verification, the planned share
 (MODEL, 'self._charge("stability", usd * per_day[j] / self.scn.cycle_hours, rise)',
  'self._charge("stability", usd / self.scn.cycle_hours, rise)', "tests/test_formulation.py tests/test_bill.py"),
 (MODEL, "m.term(row, int(per_period[j - 1]), 1.0)", "m.term(row, int(per_period[j - 1]), 0.0)",
  "tests/test_plans_hold.py"),
 (MODEL, "m.term(row, int(per_period[j]), -1.0)", "m.term(row, int(per_period[j]), 1.0)", "tests/test_plans_hold.py"),
 (MODEL, '"usd_per_mig_repartition")', '"usd_per_replica_start")', "tests/test_formulation.py"),
 ("python/gpuopt/planning/scenario.py", "return [min(ps[j - 1].days_per_week", "return [max(ps[j - 1].days_per_week",
  "tests/test_bill.py"),
 ("python/gpuopt/planning/bill.py", '["compute_slices"] / 7.0 * r.replicas', '["compute_slices"] / 8.0 * r.replicas',
  "tests/test_bill.py"),
 ("python/gpuopt/planning/bill.py", '(licence * used if r.kind == "fraction" else 0.0)', "0.0", "tests/test_bill.py"),
 ("python/gpuopt/planning/bill.py", "pool = owned * running + bought * amortised", "pool = owned * running",
  "tests/test_bill.py"),
 ("python/gpuopt/planning/bill.py", "f = per_day[period] / hours[period]", "f = 1.0 / hours[period]",
  "tests/test_bill.py"),
 ("python/gpuopt/planning/bill.py", "max(c.get(p, 0) - c.get(periods[j - 1], 0), 0)", "c.get(p, 0)",
  "tests/test_plans_hold.py"),
 ("python/gpuopt/planning/planner.py", 'if c.source == "simulated"]', "]", "tests/test_plans_hold.py"),
 ("python/gpuopt/planning/candidates.py", "CONFIRMED_SHARE = 0.90", "CONFIRMED_SHARE = 0.99",
  "tests/test_plans_hold.py"),
 # the decomposition's local search (issue 19): costs carried through a move, what a window may change
 (IMPROVE, "inc.breakdown[item] - before[item] + after[item]", "inc.breakdown[item] + after[item]",
  "tests/test_decompose_exact.py"),
 (IMPROVE, "used.get(key + (p,), 0.0) - o.owned - x.rent.get(key + (p,), 0.0)", "used.get(key + (p,), 0.0) - o.owned",
  "tests/test_decompose_exact.py"),
 (IMPROVE, "return {j: max(job.gpu_hours - done[j], 0.0)", "return {j: max(job.gpu_hours - 2 * done[j], 0.0)",
  "tests/test_decompose_exact.py"),
 (MODEL, "            capex += amortised * bought", "            capex += amortised",
  "tests/test_decompose_exact.py tests/test_bill.py"),
 (IMPROVE, "x.buy = {key: base[key] + round(v)", "x.buy = {key: round(v)", "tests/test_decompose_exact.py"),
 (IMPROVE, "STEPS = (-1, 1, -2, 2)", "STEPS = (-1, 1)", "tests/test_decompose_exact.py"),
 (IMPROVE, "for n in range(1, SWAP_UP_TO + 1) if room[b] >= n]", "for n in range(1, SWAP_UP_TO) if room[b] >= n]",
  "tests/test_decompose_exact.py"),
 (IMPROVE, "for key in fewer if buy[key] > 2]", "for key in fewer if buy[key] > 99]", "tests/test_decompose_exact.py"),
 (IMPROVE, "group = {p: into if g in touched else g for p, g in group.items()}", "pass",
  "tests/test_decompose_exact.py"),
 (IMPROVE, "if not job.periods or job.periods[0] in group]", "if job.periods and job.periods[0] in group]",
  "tests/test_decompose_exact.py"),
 # the time budget: a baseline out of time is unsolved, never diagnosed infeasible
 ("python/gpuopt/planning/baselines.py", 'if sol is not None and sol.solved.status == "unsolved":',
  "if False:", "tests/test_planner.py"),
 ("python/gpuopt/planning/solve.py", "return max(self.left() / max(parts, 1.0), self.least)",
  "return max(self.left(), self.least)", "tests/test_planner.py"),
]


def main(only: list[str]) -> int:
    return faults.run([(path, old, new, tests.split()) for path, old, new, tests in M], only)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
