"""The learning-loop simulator (``python -m backends simulate``, issue 17, decision 0018).

A population with known click-through rates per banner and segment clicks through the real
gateway and bandit over HTTP (``live``), or through the same bandit in process
(``inprocess``, the control that tells a live-path fault from a learning one); the
off-policy check (``offpolicy``) and the figures (``figures``) sit beside them.
"""
