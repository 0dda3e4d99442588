"""fashion_edge.deploy: the deploy kit (`fashion-edge pack`) and what it installs on a device."""
