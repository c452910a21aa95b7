"""SMS that Kibeti sends and receives (issue 14, item 8): delivery reports, inbound commands, opt-outs.

The tables live in core because channels own no tables; channels.sms reaches them only through
`core.messaging.flows.SmsDesk`.
"""
