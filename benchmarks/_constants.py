"""Constants shared by the benchmark's main run and its legs."""

from __future__ import annotations

from benchmarks._children import ROOT

SERVICE_ID = "918999198999"
BASE_PATH = "/STU3/1/careconnect/appointment"
DEMO_DATA = ROOT / "mappings" / "embedded" / "demo"
HORIZON_DAYS = 3
SLOTS_WANTED = 50
INCLUDES = (
    "&_include=Slot:schedule"
    "&_include:iterate=Schedule:actor:Practitioner"
    "&_include:iterate=Schedule:actor:PractitionerRole"
    "&_include:iterate=Schedule:actor:HealthcareService"
    "&_include:iterate=HealthcareService:Organization"
    "&_include:iterate=HealthcareService:Location"
)
#: Tokens are minted just before a phase and live 300 s (fs_authentication.md).
MAX_SECONDS = 240.0
WARMUP_CAP_S = 10.0
REQUEST_TIMEOUT_S = 30.0
SSP_FROM = "200000000359"
SSP_TO = "200000000115"
SCENARIOS = ("slot-search", "book+cancel")
#: The main run's targets besides the N-worker gateway (``--workers``).
TARGETS = ("gateway", "bare", "minimal")
