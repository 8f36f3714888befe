"""Networks as networks: topology from the layers, traces, consumers cut off, the cascade."""
