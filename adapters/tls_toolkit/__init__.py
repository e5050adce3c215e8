"""TLS shared by every listener and client leg: contexts, and what a certificate says.

``contexts``: ``ssl.SSLContext`` for a listener (our chain, TLS 1.2 at least, and a
client-certificate policy) or a client leg, from PEM files relative to the
configuration's folder. ``certificates``: the files read with ``cryptography``, so a
problem is said precisely (a file that is not a certificate, a key that is not the
certificate's, a certificate past its end) and a certificate's days to expiry known.

Used by the HL7 v2 TLS options (``adapters.hl7_toolkit.tls``), the HTTPS listener
(``server.tls``) and the BaRS door's mTLS listener (``bars.tls``).
"""
