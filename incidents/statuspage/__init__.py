"""The public status page: services, their state, and public updates only."""
