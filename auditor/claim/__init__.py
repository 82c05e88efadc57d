"""A headline figure explained: within its rounding, or which well-known counting conventions reproduce it.

Owns: reading a claim ("138M", "138,344,128", "trainable=60000": `parse`), the conventions worked out
from rule metadata and the IR (`conventions`), and the search over their combinations (`search`).
Rendering lives in `auditor.report.claim`.
May import: `auditor.count`, `auditor.explain`, `auditor.ir`, `auditor.memory` (its repeated blocks),
`auditor.registry`, `auditor.rules`.
"""

from auditor.claim.conventions import Convention, conventions
from auditor.claim.parse import Claim, parse_claim
from auditor.claim.search import ClaimCheck, Reading, check_claim

__all__ = ["Claim", "ClaimCheck", "Convention", "Reading", "check_claim", "conventions", "parse_claim"]
