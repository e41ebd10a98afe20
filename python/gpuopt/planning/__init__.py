"""Fleet planning, in the order a plan is made (docs/formulation.md writes the model down):
scenario (what the user asks) -> candidates (every way to run one replica, capacity under SLO,
dominated ones pruned) -> model (the mixed-integer program, named variables and constraints) ->
solve (OR-Tools, SCIP/GLOP, bound and gap) or decompose (column generation per period, Benders
across periods) -> plans (the typed Plan) -> baselines and verify (simulation). melange is
Melange's per-bucket form; synthetic makes realistic fleets for scale tests.

Names are exported from `gpuopt` itself; this package re-exports nothing."""
