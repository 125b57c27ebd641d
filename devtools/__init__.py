"""Development aids, out of the production import path: the development PKI and its
revocation server, the national-axis simulator, and the demo that `make run` starts."""
