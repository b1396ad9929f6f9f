"""What the bank's codes mean, in words a customer understands (English and Chinese)."""

from accounts.services.customer_notices import CHANNEL_IN_CHINESE  # noqa: F401 # re-exported

# Debit failure codes (debits' outcome table) -> (English, Chinese).
FAILURE_IN_PLAIN_WORDS: dict[str, tuple[str, str]] = {
    "insufficient_funds": (
        "there was not enough money in the account",
        "账户余额不足",
    ),
    "limit_exceeded": ("the account's debit limit was reached", "超出账户扣款限额"),
    "timeout": ("the payment network did not answer in time", "支付网络未及时应答"),
    "gateway_error": ("the payment network answered with an error", "支付网络返回错误"),
    "idempotency_conflict": (
        "the payment network saw a conflicting request",
        "支付网络检测到冲突的请求",
    ),
    "gateway_unavailable": ("the payment network was down", "支付网络暂时不可用"),
    "agreement_stale": (
        "the agreement was still bound to the old password",
        "扣款协议仍绑定在旧密码上",
    ),
    "agreement_revoked": (
        "the payment network no longer held the agreement",
        "支付网络已撤销扣款协议",
    ),
    "not_received": ("the payment network never received the debit", "支付网络未收到扣款请求"),
    "account_closed": ("the settlement account was closed", "结算账户已关闭"),
    "authorisation_withdrawn": (
        "the customer withdrew the debit authorisation",
        "客户已撤销扣款授权",
    ),
    "unclassified": ("the payment network gave an unknown answer", "支付网络返回未知结果"),
}


def failure_in_words(code: str) -> tuple[str, str]:
    return FAILURE_IN_PLAIN_WORDS.get(code, (code.replace("_", " "), code))
