"""Helpers shared by the test tiers: the sandboxed Asterisk, SIPp runs, free ports."""
