"""The depot simulator: BBA microgrid-controller state, its translation into
generic sensor packets, scenarios on a virtual clock, and a runner that sends
them through the service's real ingest path and records the evidence."""
