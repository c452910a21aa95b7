"""The customer portal at /app (issue 18): what USSD and Telegram do, on a phone's browser, plus
what only a screen does well (history, QR codes, ID photos). No logic of its own: every page calls
the same core use cases as the other channels."""
