"""Money arriving (chain deposits, paybill top-ups, received sends) goes through the compliance
gate in the transaction that credits it: `core.inbound.service.credit_arrived`."""
