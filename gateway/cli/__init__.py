"""``edxml-gateway``: the service's command line."""
