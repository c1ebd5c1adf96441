"""streamproc's contract SDK: data contracts as pydantic models, compiled to Arrow, validated in batches.

Must not import Kafka, Delta, HTTP or the catalog (see DESIGN.md).
"""

from contracts.arrow import contract_arrow_schema
from contracts.declare import PII_CATEGORIES, Contract, ContractInfo, Tag
from contracts.errors import (
    ContractDeclarationError,
    ContractError,
    ContractFrozenError,
    ContractNotFoundError,
    UnsupportedTypeError,
)
from contracts.fingerprint import schema_hash
from contracts.loader import load_contract
from contracts.migration import migration
from contracts.modes import ContractModes, Mode, ResolvedModes, resolve_modes
from contracts.results import Rejection, ValidationResult, Violation
from contracts.validate import validate_batch

__all__ = [
    "Contract",
    "ContractInfo",
    "ContractModes",
    "Mode",
    "migration",
    "ResolvedModes",
    "resolve_modes",
    "Tag",
    "PII_CATEGORIES",
    "contract_arrow_schema",
    "schema_hash",
    "load_contract",
    "validate_batch",
    "ValidationResult",
    "Rejection",
    "Violation",
    "ContractError",
    "ContractDeclarationError",
    "ContractNotFoundError",
    "ContractFrozenError",
    "UnsupportedTypeError",
]
