"""The CDA toolkit: the NHS 111 report (POCD_MT200001GB02) read into, and written from, a Referral.

Not an adapter (nothing here is registered in ``adapters/registry.py``): a protocol
toolkit that the ITK front door and the ITK sender adapter both use, so neither
reaches into the other's internals. It speaks lxml elements and bytes on one side and
the canonical model on the other; it never imports ``gateway/`` or any adapter.

- ``reading``: ``read_report`` (a ClinicalDocument element -> ``CdaReading``: a
  ``Referral`` draft, or ``CdaProblem``s naming the XPath of what is missing or unknown);
- ``envelope``: the CDA documents inside an ITK DistributionEnvelope's payloads;
- ``rendering``: ``render_report`` (a Referral -> a CDA document; the original CDA
  unchanged when the referral carries it).
"""

from ._xml import CdaProblem
from .envelope import Payload, documents, payloads
from .reading import CdaReading, read_bytes, read_report
from .rendering import CdaRenderError, render_report

__all__ = [
    "CdaProblem",
    "CdaReading",
    "CdaRenderError",
    "Payload",
    "documents",
    "payloads",
    "read_bytes",
    "read_report",
    "render_report",
]
