"""Development and demo infrastructure: embedded services, a worker runner, the demo, set-up."""
