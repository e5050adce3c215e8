"""Booking rules across borders (issue: which consumer may see, book and cancel which slots,
and who is accountable). See gateway/policy/model.py for the files, engine.py for the rules."""

from gateway.policy.engine import Consumer, Decision, Policy, Refusal, SlotFacts
from gateway.policy.model import PolicyError

__all__ = ["Consumer", "Decision", "Policy", "PolicyError", "Refusal", "SlotFacts"]
