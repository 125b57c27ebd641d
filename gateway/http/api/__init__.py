"""The REST API for QLVB systems under ``/api/v1``."""
