"""fashion_edge.cli: the `fashion-edge` command; each sub-command imports its stage only when it runs."""
