"""schemathesis hooks for the contract run (scripts/contract).

The mark-sheet import takes an Excel workbook; schemathesis has no serializer for it, so the
generated value is sent as its bytes (the server answers a file that is not a workbook with a
422 naming the file).
"""

import json

import schemathesis

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@schemathesis.serializer(XLSX)
def xlsx(ctx, value):
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass")
    return json.dumps(value).encode()
