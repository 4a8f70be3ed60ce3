"""Red-team audit: codekiln's attack corpus run through the real grader, and trajectories scanned for
hacking attempts. `codekiln audit grader --tasks D` / `codekiln audit rollouts R`."""

from codekiln.audit.attacks import ATTACKS, CLASSES, EXPECTED, Attack, Plan, Target

__all__ = ["ATTACKS", "CLASSES", "EXPECTED", "Attack", "Plan", "Target"]
