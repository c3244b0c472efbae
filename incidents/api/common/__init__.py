"""What every API module shares: the instant field (`instants`), strict JSON input (`strict`),
request bodies (`bodies`) and the one exception handler (`errors`)."""
