"""The HTTP faces: the REST API, the VDXP facade, the dashboard and health/metrics."""
