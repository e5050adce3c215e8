"""The HL7 v2 toolkit: the ER7 codec, MLLP framing and client, and the messages both sides build.

Not an adapter (nothing here is registered in ``adapters/registry.py``): a
protocol toolkit that the HL7 v2 adapter (``adapters/hl7v2``, towards a PAS)
and the HL7 v2 front door (``gateway/hl7``, for legacy consumers) both use, so
neither reaches into the other's modules. Framing and parsing are separate
layers (python-hl7):

- ``mllp``: finding frames in a byte stream; ``mllp_client``: one pipelined,
  reconnecting MLLP connection with ACK correlation; ``tls``: TLS options of
  one MLLP leg;
- ``frames``: a frame cut into messages (batches), and ``heading``, what an
  MSH says before the message is decoded; ``charsets``: MSH-18 to codecs;
- ``er7``: the ER7 codec; ``values``: HL7 dates, times and ids; ``header``:
  MSH, MSA, ERR and ACKs; ``scheduling``: SQM/SQR, SRM/SRR and SIU messages
  (chapter 10); ``gate``: hl7apy's structure check of inbound messages;
- ``pid``: the patient as a PID segment and back, through ``patients``, the
  genders and identifier-system tables; ``loggable``: which message ids a log
  line may hold as sent.

Importing this package imports none of them (``gate`` pulls in hl7apy).
"""
