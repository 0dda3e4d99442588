"""fashion_edge.webapp: the web app's static files (apps/web), shipped in the wheel for `fashion-edge serve`."""
