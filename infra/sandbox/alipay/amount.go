package alipay

// maxAmountFen is Alipay's upper bound for total_amount (100000000.00 yuan).
const maxAmountFen = 100_000_000_00
