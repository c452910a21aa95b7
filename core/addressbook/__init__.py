"""A customer's saved crypto addresses: label, network and address, validated and screened once at
save time, so a feature phone withdraws by picking "1 Binance TRC20 (...Q7x9)" and never types one."""
