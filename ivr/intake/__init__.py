"""One intake service for the IVR, agents and the web: field rules, requests written to the
database with their billing outbox row, delivery to billing with retries."""
