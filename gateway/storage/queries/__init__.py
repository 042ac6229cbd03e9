"""Read models: the queries behind the gateway's reports and lists."""
