"""The adversarial suite: what an attacker, a hostile server or a failing machine does to us.

Every test here is marked ``adversarial`` (``pytest -m adversarial`` runs just these).
"""
