"""Getting each accepted package to each recipient: routing, the work queue, attempts,
retries, states, and the webhooks that tell a QLVB what happened."""
