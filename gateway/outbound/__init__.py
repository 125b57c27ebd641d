"""The one outbound door and what it relies on: acceptance checks, signing, operations
(recall, update, replace) on documents we sent."""
