"""The decomposition for large scenarios: each period by column generation over its services'
integer replica covers (colgen), the periods coordinated by Benders over the GPUs bought and the
training work, then the integers period by period (benders). See docs/formulation.md."""
