"""Running the service over time: alerts, backups, reports and retention."""
