"""fashion_edge.runtime.service: `fashion-edge serve`, the HTTP service a device runs (needs [serve])."""
