"""Suido Hotline: an IVR and call-routing engine for a water utility, driving Asterisk over ARI."""

__version__ = "0.1.0"
