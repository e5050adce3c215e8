"""HTTPS on the gateway's main listener (``server.tls``), and the certificates of its listeners.

- ``settings``: the ``server.tls`` section (``ServerTlsSettings``).
- ``listeners``: the SSL context ``serve`` (and every ``--workers`` worker) listens
  with, and the subject of a request's client certificate.
- ``expiry``: days to expiry of every configured listener certificate
  (``certificate_expiry``), for check-config and for alerts.
- ``checks``: what ``uec-gateway check-config`` says of them.

Contexts are built by ``adapters.tls_toolkit``, shared with the BaRS door's mTLS
listener (``bars.tls``) and the HL7 v2 legs.
"""
