"""The hosted checkout page /i/<invoice id>: server-rendered, no login, English and Swahili."""
