"""Telegram chats linked to customers: which Telegram user is which customer (issue 14).

The table lives in core because channels own no tables; channels.telegram reaches it only through
`core.telegram.flows.TelegramLinks`.
"""
