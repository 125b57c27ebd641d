"""What the axis or a hub brings us: checks, copies per agency, the automatic 01/02, status
packages about our documents, and the memory of what was received."""
