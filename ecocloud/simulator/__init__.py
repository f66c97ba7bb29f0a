"""Simulator of the upstream systems: realistic data with injected faults, served over the real
protocols (HTTP files for the national air release; more upstreams mount on the same server).

``province``: the simulated monitoring networks; ``air``: day files and station list of the
national real-time air release; ``server``: the HTTP server with a simulated clock.
"""
