"""The demo shop's FAQ and synonyms: what the assistant answers from on the dev gateway and in
its evaluation set (tests/assistant_eval.jsonl).

Fixed ids make seeding idempotent; the merchant's own edits (merchant_upsert_faq) are kept.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

# (id, question, answer, keywords)
FAQ: list[tuple[str, str, str, list[str]]] = [
    ("faq_shipping_fee", "运费怎么算？包邮吗？",
     "全场满59元包邮，不满59元收取运费8元；新疆、西藏、青海等偏远地区另计运费。",
     ["运费", "包邮", "邮费", "快递费"]),
    ("faq_ship_time", "下单后多久发货？",
     "现货商品下单后48小时内发货；生鲜水果为产地直发，一般在72小时内发出。",
     ["发货", "多久发", "什么时候发", "几天发"]),
    ("faq_delivery_time", "快递一般几天能到？",
     "江浙沪一般1-2天送达，其他地区2-4天，偏远地区4-7天，以快递公司实际配送为准。",
     ["几天到", "多久到", "送达", "配送时间"]),
    ("faq_courier", "用的是什么快递？",
     "默认发顺丰或京东快递；生鲜冷链使用顺丰冷运，暂不支持指定其他快递。",
     ["快递公司", "顺丰", "京东", "哪家快递"]),
    ("faq_return_policy", "怎么退货？退货政策是什么？",
     "签收后7天内支持无理由退货（生鲜食品除外）：在订单详情点「申请售后」，选择退货退款并填写原因，"
     "审核通过后寄回商品并填写退货单号，我们收货后1-3个工作日退款。",
     ["退货", "退换", "无理由", "七天", "7天", "售后"]),
    ("faq_refund_time", "退款多久到账？",
     "退款审核通过后原路退回：微信零钱即时到账，银行卡1-5个工作日到账。",
     ["退款", "到账", "多久退"]),
    ("faq_damaged", "收到的商品破损或有质量问题怎么办？",
     "请在签收后48小时内拍照，在订单详情申请售后并上传照片，质量问题由我们承担运费，可退款或补发。",
     ["破损", "坏了", "质量问题", "烂了", "坏果", "压坏"]),
    ("faq_invoice", "可以开发票吗？",
     "可以开具电子普通发票：订单完成后在订单详情申请，或联系客服提供抬头和税号。",
     ["发票", "开票", "抬头", "税号"]),
    ("faq_change_address", "下单后能修改收货地址吗？",
     "订单未发货前可以取消后重新下单；已发货的订单请联系快递修改或联系人工客服协助。",
     ["改地址", "修改地址", "地址写错", "收货地址"]),
    ("faq_cancel_order", "怎么取消订单？",
     "待付款的订单可在订单详情直接取消；已付款未发货的订单可申请退款，已发货的请在收货后申请售后。",
     ["取消订单", "不想要了", "取消"]),
    ("faq_payment", "支持哪些支付方式？",
     "目前支持微信支付，可使用零钱、银行卡和信用卡；积分可以抵扣部分金额。",
     ["支付方式", "付款方式", "信用卡", "花呗", "怎么付款"]),
    ("faq_membership", "会员有什么权益？怎么升级？",
     "消费即可累积成长值自动升级会员等级，等级越高折扣越多；每消费1元得1积分，积分可抵现。",
     ["会员", "等级", "成长值", "权益", "vip"]),
    ("faq_points", "积分怎么用？",
     "100积分抵1元，结算时勾选使用积分即可，最多抵扣订单金额的50%；积分有效期一年。",
     ["积分", "抵扣", "抵现", "签到"]),
    ("faq_pickup", "可以到门店自提吗？",
     "可以。结算时选择「门店自提」并选择附近门店，到店出示取货码即可提货。",
     ["自提", "门店", "到店", "取货"]),
    ("faq_store_hours", "门店几点营业？",
     "门店一般营业时间为09:00-22:00，部分旗舰店24小时营业，具体以门店页面为准。",
     ["营业时间", "几点开门", "几点关门", "营业"]),
    ("faq_fresh_storage", "水果收到后怎么保存？",
     "收到后请尽快开箱检查；草莓、蓝莓等请冷藏并在2-3天内食用，芒果、榴莲常温放置至成熟后再冷藏。",
     ["保存", "冷藏", "放冰箱", "保鲜"]),
    ("faq_shelf_life", "零食的保质期多久？",
     "零食类保质期一般为6-12个月，具体以包装上的生产日期和保质期为准，我们保证发货时距过期至少3个月。",
     ["保质期", "生产日期", "过期", "新鲜"]),
    ("faq_gift_wrap", "可以送礼包装或写贺卡吗？",
     "茶叶和礼盒类商品自带礼盒包装；下单时可在备注里写贺卡留言，我们免费代写。",
     ["礼盒", "包装", "贺卡", "送人", "送礼"]),
    ("faq_stock_notice", "商品缺货了什么时候补货？",
     "缺货商品一般在3-7天内补货，可以先加入购物车，补货后会有提醒。",
     ["补货", "缺货", "没货", "到货"]),
    ("faq_price_protect", "买完降价了能退差价吗？",
     "签收后7天内同一商品降价（不含秒杀、拼团、砍价价格）可联系客服申请价保，退还差价。",
     ["降价", "差价", "价保", "保价"]),
    ("faq_bulk_order", "可以企业团购或大批量采购吗？",
     "支持企业团购，30件以上可享批发价，请转人工客服留下联系方式，我们会尽快联系您。",
     ["企业", "批量", "采购", "批发"]),
    ("faq_account_delete", "怎么注销账号？",
     "在「我的-设置-注销账号」可注销，注销后个人信息将被删除，订单记录会匿名保留。",
     ["注销", "删除账号", "个人信息"]),
]

# merchant synonyms: a word -> words a shopper uses for the same thing
SYNONYMS: dict[str, list[str]] = {
    "保温杯": ["水杯", "杯子", "保温壶", "焖烧杯"],
    "抽纸": ["纸巾", "面巾纸", "卫生纸"],
    "洗衣凝珠": ["洗衣液", "洗衣球"],
    "挂耳咖啡": ["咖啡"],
    "手撕牛肉干": ["牛肉干", "肉干"],
    "枕头": ["乳胶枕", "睡枕"],
    "脐橙": ["橙子", "橘子", "甜橙"],
    "青提": ["葡萄", "提子"],
    "芒果": ["芒"],
    "收纳箱": ["收纳盒", "储物箱", "整理箱"],
    "草莓": ["士多啤梨"],
    "湿巾": ["纸巾湿巾", "清洁巾"],
}


def seed_faq(db: Any, now: datetime) -> int:
    for faq_id, question, answer, keywords in FAQ:
        db.assistant_faq.update_one({"_id": faq_id}, {"$setOnInsert": {
            "question": question, "answer": answer, "keywords": keywords,
            "created_at": now, "updated_at": now}}, upsert=True)
    for word, synonyms in SYNONYMS.items():
        db.assistant_synonyms.update_one({"_id": word}, {"$setOnInsert": {
            "synonyms": synonyms, "updated_at": now}}, upsert=True)
    from shared.assistant.faq import bump_faq_versions
    bump_faq_versions(db)
    return len(FAQ)
