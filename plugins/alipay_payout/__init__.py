"""Alipay payout channel: outward payments through alipay.fund.trans.uni.transfer."""
