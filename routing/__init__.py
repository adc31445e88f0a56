"""Who handles a call after the IVR: calendars, queues, agents, transfers."""
