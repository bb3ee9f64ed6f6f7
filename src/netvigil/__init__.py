"""netvigil: an outage observatory."""
