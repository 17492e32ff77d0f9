"""What the ledger says to people, in English and Simplified Chinese: the title of every problem
code and the text of every refusal, by message key, in this one table.

The ledger raises its errors with a message key and parameters (`ledger/errors.py`); whoever
shows them (the HTTP API by `Accept-Language`, the command line in English) renders them here.
Times among the parameters are shown in the zone the caller names (the service's
`HOUR_LEDGER_TIMEZONE`), never in UTC by accident. Integers are shown plainly (no thousands
separators), so that an id or a position can be found in the text as it is.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from typing import Any, Literal
from zoneinfo import ZoneInfo

Language = Literal["en", "zh-CN"]
ENGLISH: Language = "en"
CHINESE: Language = "zh-CN"
LANGUAGES: tuple[Language, ...] = (ENGLISH, CHINESE)
DEFAULT_ZONE = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True)
class Text:
    en: str
    zh: str

    def in_(self, language: Language) -> str:
        return self.zh if language == CHINESE else self.en


@dataclass(frozen=True)
class Thing:
    """Something a message names: its kind (a key of THINGS) and, when known, its id."""

    kind: str
    id: object | None = None

    def render(self, language: Language) -> str:
        name = THINGS[self.kind].in_(language)
        if self.id is None:
            return name
        return f"{name} {self.id}"


# Titles: one per problem code (RFC 9457: the title belongs to the problem type, not to one
# occurrence). `not_applied` and `timebank_already_open` are ours (docs/decisions.md).
TITLES: dict[str, Text] = {
    "validation_error": Text("Invalid request", "请求无效"),
    "not_found": Text("Not found", "未找到"),
    "unauthorized": Text("Unauthorized", "身份验证失败"),
    "forbidden": Text("Forbidden", "无权操作"),
    "insufficient_balance": Text("Insufficient balance", "余额不足"),
    "out_of_stock": Text("Out of stock", "库存不足"),
    "star_level_too_low": Text("Star level too low", "星级不够"),
    "timebank_not_open": Text("Time-bank account not open", "时间银行账户未开户"),
    "timebank_already_open": Text("Time-bank account already open", "时间银行账户已开户"),
    "timebank_cap_exceeded": Text("Time-bank cap exceeded", "超过时间银行存储上限"),
    "overlapping_service": Text("Overlapping service", "服务时间重叠"),
    "already_reversed": Text("Already reversed", "已被冲正"),
    "not_reversible": Text("Not reversible", "不可冲正"),
    "transaction_id_conflict": Text("Id already used", "编号已被占用"),
    "unavailable": Text("Service unavailable", "服务暂不可用"),
    "not_applied": Text("Not applied", "未执行"),
}

# What messages name, by kind.
THINGS: dict[str, Text] = {
    "volunteer": Text("volunteer", "志愿者"),
    "the volunteer": Text("the volunteer", "该志愿者"),
    "organization": Text("organization", "组织"),
    "the organization": Text("the organization", "该组织"),
    "exchange point": Text("exchange point", "兑换点"),
    "the exchange point": Text("the exchange point", "该兑换点"),
    "transaction": Text("transaction", "交易"),
    "api key": Text("API key", "API 密钥"),
    "certificate": Text("certificate", "证明"),
    "region": Text("region", "地区"),
    "read models": Text("read models", "读模型"),
    "audit tree": Text("audit tree", "审计树"),
    "lists": Text("lists", "列表"),
}

# Request fields by name, for Chinese details: "分钟数（minutes）：须为整数".
FIELDS_ZH: dict[str, str] = {
    "body": "请求体",
    "id": "编号",
    "name": "名称",
    "region_code": "行政区划代码",
    "organization_id": "组织编号",
    "birth_year": "出生年份",
    "id_number": "身份证号",
    "price_minutes": "价格（分钟）",
    "stock": "库存",
    "min_star": "最低星级",
    "role": "角色",
    "exchange_point_id": "兑换点编号",
    "period_from": "证明起始日期",
    "period_to": "证明截止日期",
    "type": "交易类型",
    "volunteer_id": "志愿者编号",
    "category": "服务类别",
    "started_at": "开始时间",
    "ended_at": "结束时间",
    "activity": "活动",
    "minutes": "分钟数",
    "served_at": "服务时间",
    "beneficiary_id": "受益人编号",
    "note": "备注",
    "from_volunteer_id": "转出志愿者编号",
    "to_volunteer_id": "转入志愿者编号",
    "relation": "亲属关系",
    "reason": "原因",
    "items": "兑换物品",
    "sku": "物品编号",
    "quantity": "数量",
    "reverses": "被冲正的交易编号",
    "transactions": "交易列表",
    "atomic": "整批执行",
    "as_of": "截至时刻",
    "from": "起始",
    "to": "截止",
    "book": "账簿",
    "cursor": "翻页游标",
    "limit": "每页条数",
    "region": "地区",
    "level": "层级",
    "by": "分组方式",
    "min_position": "最低日志位置",
    "position": "日志位置",
    "tree_size": "树大小",
    "after": "起点",
    "format": "下载格式",
    "key_id": "密钥编号",
    "transaction_id": "交易编号",
    "code": "证明编号",
}

# The columns of downloaded statements and statistics (api/downloads.py), by JSON field.
COLUMNS_ZH: dict[str, str] = {
    "transaction_id": "交易编号",
    "type": "交易类型",
    "minutes": "变动（分钟）",
    "balance_after_minutes": "变动后余额（分钟）",
    "recorded_at": "记录时间",
    "key": "编码",
    "name": "名称",
    "volunteers": "志愿者人数",
    "active_volunteers": "活跃志愿者人数",
    "service_records": "服务记录数",
    "service_minutes": "服务时长（分钟）",
    "redemptions": "兑换次数",
    "redeemed_minutes": "兑换时长（分钟）",
    "items": "兑换物品件数",
    "timebank_accounts": "时间银行账户数",
    "timebank_deposited_minutes": "时间银行存入（分钟）",
    "timebank_withdrawn_minutes": "时间银行支取（分钟）",
    "beneficiaries": "受益人数",
}

DETAILS: dict[str, Text] = {
    # Shapes of values -------------------------------------------------------------------
    "required": Text("is required", "为必填项"),
    "not_empty": Text("must not be empty", "不能为空"),
    "too_long": Text("is longer than {max} characters", "超过 {max} 个字符"),
    "at_least_chars": Text("must be at least {min} characters", "至少须有 {min} 个字符"),
    "length_range": Text("must be {low} to {high} characters", "须为 {low} 到 {high} 个字符"),
    "between": Text("must be between {low} and {high}", "须在 {low} 到 {high} 之间"),
    "at_least": Text("must be at least {low}", "不能小于 {low}"),
    "at_most": Text("must be at most {high}", "不能大于 {high}"),
    "above": Text("must be more than {low}", "须大于 {low}"),
    "below": Text("must be less than {high}", "须小于 {high}"),
    "whole_range": Text("must be a whole number from {low} to {high}", "须为 {low} 到 {high} 之间的整数"),
    "whole_number": Text("must be a whole number (not text, not a decimal)", "须为整数（不能是文本或小数）"),
    "minutes_whole": Text("must be a whole number of minutes", "须为整数分钟"),
    "minutes_range": Text("must be between 1 and {max} minutes", "须在 1 到 {max} 分钟之间"),
    "text": Text("must be text (a JSON string)", "须为文本（JSON 字符串）"),
    "boolean": Text("must be true or false", "须为 true 或 false"),
    "uuid": Text(
        "must be a UUID, e.g. 3f2b8c1e-5a4d-4c3b-9e2f-1a2b3c4d5e6f",
        "须为 UUID，例如 3f2b8c1e-5a4d-4c3b-9e2f-1a2b3c4d5e6f",
    ),
    "object": Text("must be a JSON object ({{...}})", "须为 JSON 对象（{{…}}）"),
    "body_object": Text("the body must be a JSON object ({{...}})", "请求体须为 JSON 对象（{{…}}）"),
    "list": Text("must be a list ([...])", "须为列表（[…]）"),
    "list_at_least": Text("must have at least {min} items", "至少须有 {min} 项"),
    "list_at_most": Text("must have at most {max} items", "最多 {max} 项"),
    "one_of": Text("must be one of {choices}", "须为以下之一：{choices}"),
    "unknown_field": Text("is not a field of this request: remove it", "不是此请求的字段，请删除"),
    "bad_form": Text("does not have the form this field takes", "格式不符合要求"),
    "bad_value": Text("has a value this field does not take", "取值不被接受"),
    "timestamp": Text(
        "must be an RFC 3339 timestamp with a zone, e.g. 2026-03-05T09:00:00+08:00",
        "须为带时区的 RFC 3339 时间，例如 2026-03-05T09:00:00+08:00",
    ),
    "timestamp_zone": Text(
        "a timestamp needs a zone, e.g. 2026-03-05T09:00:00+08:00",
        "时间须带时区，例如 2026-03-05T09:00:00+08:00",
    ),
    "timestamp_or_date": Text(
        "expected an RFC 3339 timestamp (e.g. 2026-03-05T09:00:00+08:00) or a date (YYYY-MM-DD)",
        "须为 RFC 3339 时间（例如 2026-03-05T09:00:00+08:00）或日期（YYYY-MM-DD）",
    ),
    "moment_range": Text(
        "must be a moment between the years 1 and 9999 in UTC", "须为公元 1 年至 9999 年之间的时刻（按 UTC 计）"
    ),
    "date": Text("must be a date (YYYY-MM-DD)", "须为日期（YYYY-MM-DD）"),
    "not_after": Text("must not be after {other}", "不能晚于 {other}"),
    "not_after_today": Text("must not be after today ({today})", "不能晚于今天（{today}）"),
    "in_future": Text("{moment} is in the future", "{moment} 晚于当前时间"),
    "region_code_shape": Text(
        "a region code is 2, 4, 6, 9 or 12 digits (province to village)",
        "须为 2、4、6、9 或 12 位数字的行政区划代码（省、市、县、镇、村）",
    ),
    "sku_shape": Text("a sku is 1 to 64 characters", "物品编号为 1 到 64 个字符"),
    "sku_form": Text(
        "a sku is 1 to 64 letters, digits or . _ : -", "物品编号为 1 到 64 个字母、数字或 . _ : - 符号"
    ),
    "level_choice": Text(
        "must be one of province, city, county, town, village",
        "须为 province（省）、city（市）、county（县）、town（镇）、village（村）之一",
    ),
    "level_above_region": Text("must be at or below the level of region", "不能高于 region 所在的层级"),
    "book_choice": Text("must be service or timebank", "须为 service（服务时长）或 timebank（时间银行）"),
    "months_max": Text("a monthly breakdown covers at most {max} months", "按月分组最多覆盖 {max} 个月"),
    "cursor_unknown": Text("is not a cursor this ledger issued", "不是本账本签发的翻页游标"),
    "cursor_other_statement": Text("is not a cursor of this statement", "不是此对账单的翻页游标"),
    "bad_cursor": Text(
        "is not a cursor of this list ({kind}); use the next_cursor a page answered",
        "不是此列表（{kind}）的翻页游标；请使用上一页返回的 next_cursor",
    ),
    "limit_range": Text("must be a whole number from 1 to {most}", "须为 1 到 {most} 之间的整数"),
    "query_too_long": Text("is longer than {most} characters", "超过 {most} 个字符"),
    "from_after_to": Text("must not be after to", "不能晚于 to"),
    "pickup_code_form": Text(
        "a pickup code is 6 letters and digits (no 0, O, 1 or I)", "取货码为 6 位字母和数字（不含 0、O、1、I）"
    ),
    "format_choice": Text(
        "must be json, csv or xlsx (or send Accept: text/csv)", "须为 json、csv 或 xlsx（或发送 Accept: text/csv）"
    ),
    "download_too_long": Text(
        "has more than {max} entries to download: narrow from and to",
        "可下载的条目超过 {max} 条，请缩小 from 与 to 的范围",
    ),
    # Transactions ------------------------------------------------------------------------
    "service_length": Text(
        "a service record lasts 1 to 1440 whole minutes after started_at",
        "一条服务记录须在 started_at 之后持续 1 到 1440 整分钟",
    ),
    "transfer_to_self": Text("a transfer goes to another volunteer", "转赠须转给另一位志愿者"),
    "items_empty": Text("a redemption takes at least one item", "兑换至少包含一件物品"),
    "items_too_many": Text("at most {max} lines", "最多 {max} 行"),
    "reverse_self": Text("a transaction cannot reverse itself", "交易不能冲正自身"),
    "type_choice": Text(
        "the transaction's type must be one of {choices}", "交易类型（type）须为以下之一：{choices}"
    ),
    "type_missing": Text(
        "the transaction has no type: it must be one of {choices}", "交易缺少类型（type），须为以下之一：{choices}"
    ),
    # Rules of the ledger -----------------------------------------------------------------
    "pool_short": Text(
        "the community pool holds {held} minutes, {asked} asked", "社区公益池仅有 {held} 分钟，申请 {asked} 分钟"
    ),
    "timebank_short": Text(
        "time-bank balance is {balance} minutes, {asked} asked", "时间银行余额为 {balance} 分钟，不足 {asked} 分钟"
    ),
    "timebank_cap": Text(
        "crediting {minutes} minutes would make the time-bank balance {balance}, above the cap of {cap}",
        "存入 {minutes} 分钟后时间银行余额将为 {balance} 分钟，超过上限 {cap} 分钟",
    ),
    "redemption_short": Text(
        "redemption costs {cost} minutes, {available} available", "兑换需要 {cost} 分钟，可用时长仅 {available} 分钟"
    ),
    "service_hours_spent": Text(
        "cannot take back {minutes} earned minutes: {redeemed} of {earned} are already redeemed, {available} available",
        "无法收回 {minutes} 分钟服务时长：已获得的 {earned} 分钟中已兑换 {redeemed} 分钟，仅余 {available} 分钟",
    ),
    "service_overlaps": Text(
        "service from {started_at} to {ended_at} overlaps service record {other} ({other_started_at} to {other_ended_at})",
        "{started_at} 至 {ended_at} 的服务与服务记录 {other}（{other_started_at} 至 {other_ended_at}）时间重叠",
    ),
    "no_such_item": Text("exchange point {point} has no item '{sku}'", "兑换点 {point} 没有物品“{sku}”"),
    "star_level_needed": Text(
        "item '{sku}' needs star level {needed}, the volunteer has {level}",
        "物品“{sku}”需要 {needed} 星级，该志愿者为 {level} 星",
    ),
    "out_of_stock": Text("item '{sku}': {stock} in stock, {asked} asked", "物品“{sku}”库存 {stock} 件，申请 {asked} 件"),
    "timebank_not_open": Text(
        "volunteer {volunteer} has no open time-bank account", "志愿者 {volunteer} 尚未开立时间银行账户"
    ),
    "timebank_already_open": Text(
        "volunteer {volunteer} already has a time-bank account", "志愿者 {volunteer} 已开立时间银行账户"
    ),
    "reversal_of_reversal": Text(
        "transaction {id} is a reversal and cannot be reversed", "交易 {id} 本身是冲正交易，不能再冲正"
    ),
    "already_reversed": Text("transaction {id} was already reversed by {by}", "交易 {id} 已被交易 {by} 冲正"),
    "type_not_reversible": Text("transaction type {type} cannot be reversed", "交易类型 {type} 不可冲正"),
    "legs_unbalanced": Text(
        "legs of transaction {id} do not sum to zero: {legs}", "交易 {id} 的各分录之和不为零：{legs}"
    ),
    "transaction_id_reused": Text(
        "transaction id {id} was already used for different content", "交易编号 {id} 已用于内容不同的另一笔交易"
    ),
    "id_taken": Text("id {id} is already used for something else", "编号 {id} 已被其他对象使用"),
    "thing_not_found": Text("{thing} not found", "未找到{thing}"),
    "no_certificate": Text("no certificate with code '{code}'", "没有编号为“{code}”的证明"),
    # Keys and permissions ----------------------------------------------------------------
    "no_key": Text(
        "send an API key: Authorization: Bearer <secret>", "请提供 API 密钥：Authorization: Bearer <密钥>"
    ),
    "unknown_key": Text("unknown or revoked API key", "API 密钥不存在或已被吊销"),
    "role_may_not": Text(
        "a {role} key may not do this (needs {allowed})", "{role} 角色的密钥无权执行此操作（需要 {allowed}）"
    ),
    "outside_scope": Text(
        "{what} is in region {region}, outside this key's scope {scope}",
        "{what} 位于地区 {region}，超出此密钥的范围 {scope}",
    ),
    "region_outside_scope": Text(
        "region {region} is outside this key's scope {scope}", "地区 {region} 超出此密钥的范围 {scope}"
    ),
    "point_key_redemptions_only": Text(
        "an exchange_point key may post only redemptions, and reversals of its own point's recent redemptions",
        "兑换点（exchange_point）密钥只能提交兑换，以及撤销本兑换点最近的兑换",
    ),
    "counter_reverses_redemptions_only": Text(
        "an exchange_point key may reverse only redemptions; transaction {transaction} is a {type}",
        "兑换点密钥只能撤销兑换；交易 {transaction} 是 {type}",
    ),
    "counter_reverses_own_point_only": Text(
        "an exchange_point key may reverse only its own exchange point's redemptions; redemption {transaction} was at exchange point {point}",
        "兑换点密钥只能撤销本兑换点的兑换；兑换 {transaction} 发生在兑换点 {point}",
    ),
    "counter_reversal_window": Text(
        "an exchange_point key may reverse a redemption only within {hours} hours of posting it; redemption {transaction} was posted at {posted_at}: ask an operator to reverse it",
        "兑换点密钥只能在兑换后 {hours} 小时内撤销；兑换 {transaction} 的时间为 {posted_at}，请联系操作员冲正",
    ),
    "counter_finds_by_id_number": Text(
        "an exchange_point key finds a volunteer by id_number only", "兑换点密钥只能按身份证号（id_number）查找志愿者"
    ),
    "counter_lists_own_point": Text(
        "an exchange_point key lists only its own exchange point's transactions", "兑换点密钥只能列出本兑换点的交易"
    ),
    "counter_reads_own_point": Text(
        "an exchange_point key reads only its own exchange point's redemptions", "兑换点密钥只能查看本兑换点的兑换"
    ),
    "point_key_own_point": Text(
        "an exchange_point key may redeem only at its own exchange point",
        "兑换点（exchange_point）密钥只能在本兑换点兑换",
    ),
    "scope_roles_only": Text(
        "only operator and auditor keys take a region scope", "只有 operator 和 auditor 密钥可以限定地区范围"
    ),
    "point_key_needs_point": Text(
        "an exchange_point key is bound to one exchange point", "exchange_point 密钥须绑定一个兑换点"
    ),
    "point_only_for_point_keys": Text(
        "only exchange_point keys are bound to a point", "只有 exchange_point 密钥可以绑定兑换点"
    ),
    # The request as a whole --------------------------------------------------------------
    "json_malformed": Text(
        "the body is not valid JSON (line {line}, column {column})",
        "请求体不是有效的 JSON（第 {line} 行第 {column} 列）",
    ),
    "body_unreadable": Text(
        "the body could not be read: send JSON text encoded in UTF-8", "无法读取请求体：请发送 UTF-8 编码的 JSON 文本"
    ),
    "content_type": Text(
        "send the body as JSON with the header Content-Type: application/json (this request said {given})",
        "请以 JSON 格式发送请求体，并设置请求头 Content-Type: application/json（此请求为 {given}）",
    ),
    "body_too_large": Text("the request body is larger than {limit} bytes", "请求体超过 {limit} 字节"),
    "no_such_route": Text("nothing here: see /docs for the API's addresses", "此地址不存在：请查看 /docs 中的接口列表"),
    "method_not_allowed": Text("{method} is not allowed at this address", "此地址不支持 {method} 请求"),
    "not_applied": Text(
        "not applied: item {index} of this atomic batch failed", "未执行：此整批请求中的第 {index} 项失败"
    ),
    # Availability ------------------------------------------------------------------------
    "store_down": Text(
        "the store is unavailable: the database does not answer", "存储暂不可用：数据库没有响应"
    ),
    "store_failed": Text("the store is unavailable ({error}); try again", "存储暂不可用（{error}），请稍后重试"),
    "lists_moving": Text(
        "the lists' position kept moving under this follower; try again", "列表的位置一再变动，请稍后重试"
    ),
    "lists_failed": Text("the lists are unavailable ({error}); try again", "列表暂不可用（{error}），请稍后重试"),
    "lists_behind": Text(
        "the lists have not yet read the log up to position {wanted}; try again", "列表尚未读到日志位置 {wanted}，请稍后重试"
    ),
    "too_many_requests": Text(
        "too many requests from this address; try again in {seconds} s", "此地址请求过于频繁，请 {seconds} 秒后再试"
    ),
    "too_many_failed_authentications": Text(
        "too many failed authentications from this address; try again in {seconds} s",
        "此地址身份验证失败次数过多，请 {seconds} 秒后再试",
    ),
    "contention": Text(
        "too much contention on these accounts; try again", "这些账户正被频繁操作，请稍后重试"
    ),
    "register_refused": Text(
        "could not register: the store kept refusing; try again", "未能登记：存储一再拒绝，请稍后重试"
    ),
    "certificate_code_draw": Text(
        "could not draw a new certificate code; try again", "未能生成新的证明编号，请重试"
    ),
    "read_models_failed": Text(
        "the read models are unavailable ({error}); try again", "读模型暂不可用（{error}），请稍后重试"
    ),
    "read_models_generation": Text(
        "the read models kept changing generation; try again", "读模型正在切换版本，请稍后重试"
    ),
    "read_models_behind": Text(
        "the read models are at position {position}, behind {wanted}; try again",
        "读模型处理到日志位置 {position}，尚未到达 {wanted}，请稍后重试",
    ),
    "read_models_catching_up": Text(
        "the read models are catching up; try again", "读模型正在追赶最新数据，请稍后重试"
    ),
    "rebuild_catch_up": Text(
        "the rebuilt read models could not catch up with the current ones", "重建的读模型未能追上当前读模型"
    ),
    "unexpected": Text("unexpected error; nothing was recorded", "发生意外错误，没有记录任何内容"),
    # Audit ---------------------------------------------------------------------------------
    "audit_tree_moving": Text(
        "the audit tree kept moving under this follower", "审计树在处理期间不断变化"
    ),
    "audit_inconsistent": Text(
        "the tree of size {size} is not consistent with the checkpoint of size {checkpoint}: run `hour-ledger audit verify`",
        "大小为 {size} 的树与大小为 {checkpoint} 的检查点不一致：请运行 `hour-ledger audit verify`",
    ),
    "audit_leaf_not_yet": Text("leaf {leaf} is not in the tree yet", "叶子 {leaf} 尚未进入审计树"),
    "audit_subtree_missing": Text(
        "the stored tree lacks the subtree {subtree}: run `hour-ledger audit verify`",
        "存储的审计树缺少子树 {subtree}：请运行 `hour-ledger audit verify`",
    ),
    "audit_no_event": Text("no event at position {position} in the audit tree", "审计树中没有位于日志位置 {position} 的事件"),
    "audit_leaf_beyond": Text(
        "the event at position {position} is leaf {leaf}, not in a tree of size {size}",
        "日志位置 {position} 的事件是叶子 {leaf}，不在大小为 {size} 的树中",
    ),
    "audit_no_checkpoint": Text("no signed checkpoint of size {size}", "没有大小为 {size} 的已签名检查点"),
    "audit_range": Text("from ({low}) must be between 0 and to ({high})", "from（{low}）须在 0 与 to（{high}）之间"),
    "audit_size_beyond": Text(
        "tree_size {size} is beyond the tree, which has {leaves} leaves", "tree_size {size} 超出审计树的 {leaves} 个叶子"
    ),
    # Readiness -----------------------------------------------------------------------------
    "not_ready_database": Text("the database does not answer", "数据库没有响应"),
    "not_ready_follower": Text(
        "the {what} follower of this process is not running", "本进程的{what}跟随线程未在运行"
    ),
    "not_ready_lag": Text(
        "the {what} are {lag} events behind the log (more than {max})", "{what}落后日志 {lag} 个事件（超过 {max}）"
    ),
}

def title(code: str, language: Language) -> str:
    """The title of a problem code (a code without one reads as a plain validation error)."""
    return TITLES.get(code, TITLES["validation_error"]).in_(language)


def render(message: str, params: dict[str, Any], language: Language, zone: tzinfo | None = None) -> str:
    """A message in `language`, its parameters shown for people: times in `zone`, things by
    their names in that language."""
    template = DETAILS[message].in_(language)
    shown = {name: _show(value, language, zone or DEFAULT_ZONE) for name, value in params.items()}
    return template.format(**shown)


def field_detail(field: str, text: str, language: Language) -> str:
    """A message about one field, naming it: `minutes: ...`, `分钟数（minutes）：...`."""
    if field == "body":
        return text
    if language != CHINESE:
        return f"{field}: {text}"
    label = FIELDS_ZH.get(field.rsplit(".", 1)[-1])
    return f"{label}（{field}）：{text}" if label else f"{field}：{text}"


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def _show(value: Any, language: Language, zone: tzinfo) -> str:
    if isinstance(value, Thing):
        return value.render(language)
    if isinstance(value, datetime):
        return value.astimezone(zone).isoformat() if value.tzinfo is not None else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return ("、" if language == CHINESE else ", ").join(value)
    return str(value)
