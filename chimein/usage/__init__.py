"""Token accounting, the durable usage ledger, prices and reports.

Billing rule (Proactive Audio): input audio is charged for everything the assistant listened
to; output audio only for what it actually sent, so a declined turn costs no output tokens.
See docs/usage.md.
"""

from .ledger import Ledger, UsageEvent, api_key_id, open_ledger
from .report import Prices, format_report, load_prices, usage_main, usage_report
from .tokens import AUDIO_TOKENS_PER_SECOND, AccountingRules, TurnUsage, UsageMeter, audio_tokens

__all__ = [
    "AUDIO_TOKENS_PER_SECOND",
    "AccountingRules",
    "Ledger",
    "Prices",
    "TurnUsage",
    "UsageEvent",
    "UsageMeter",
    "api_key_id",
    "audio_tokens",
    "format_report",
    "load_prices",
    "open_ledger",
    "usage_main",
    "usage_report",
]
