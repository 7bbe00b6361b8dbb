"""Token accounting, the durable usage ledger, prices and reports."""
