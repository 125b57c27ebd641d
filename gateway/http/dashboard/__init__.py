"""The clerks' and operators' dashboard under ``/dashboard``."""
