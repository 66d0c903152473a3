"""What a shopper's sentence asks for: one of the assistant's intents, with how sure we are.

Rules first (cue words a shopper uses for orders, returns, coupons, a person), then retrieval
decides between a product, the FAQ and nothing: a sentence naming a product of the shop is about
that product; one close to an FAQ question is that FAQ. The cue lists are Chinese as shoppers
write it, checked by the evaluation set (tests/assistant_eval.jsonl).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Optional

from shared.assistant.index import AssistantIndex, FaqEntry, ProductEntry
from shared.assistant.text import Filters

INTENTS = ("product_search", "product_question", "order_status", "after_sale", "promotion",
           "recommend", "faq", "handoff", "other")

HANDOFF = re.compile(r"转人工|人工客服|人工服务|找人工|要人工|真人|投诉|举报|客服电话|找客服|"
                     r"联系客服|"
                     r"叫你们(老板|经理)|活人|^人工$")
ORDER = re.compile(r"(我的|我买的|我下的|查一?下?|帮我查).{0,6}(订单|快递|物流|包裹|单号|东西)|"
                   r"(订单|快递|物流|包裹|单号|东西|货|下的单).{0,6}(到哪|在哪|哪儿|什么时候到|怎么还没|还没到|"
                   r"状态|进度|发货了[吗没]|发了[吗没]|到了[吗没]|几时到)|查(订单|物流|快递)|"
                   r"怎么还没(到|发货|收到)|还没(收到|发货)|物流信息|快递单号|运单号|订单状态")
NOT_AFTER_SALE = re.compile(r"差价|价保|保价")
AFTER_SALE = re.compile(r"退货|退款|换货|售后|退换|退钱|想退|要退|能退|可以退|怎么退|破损|质量问题|"
                        r"坏了|烂了|坏果|压坏|漏了|少发|发错|错发|不新鲜|变质")
PROMOTION = re.compile(r"优惠券|优惠|领券|券|打折|折扣|活动|拼团|砍价|满减|促销|特价|秒杀|红包|"
                       r"福利|减免|新人|特惠|团购价|划算")
NOT_PROMOTION = re.compile(r"降价|差价|价保|企业团购|批量")
RECOMMEND = re.compile(r"推荐|热销|爆款|畅销|卖得(最)?好|人气|值得买|必买|买什么|送什么|吃什么|"
                       r"喝什么|有什么好|好吃的|好喝的|猜我喜欢|大家都买|回购|招牌|哪个好")
QUESTION = re.compile(r"多少钱|价格|价钱|几块|几元|贵不贵|贵吗|有货|库存|还有吗|还有没有|现货|卖完|"
                      r"售罄|规格|颜色|几种|多大|多重|容量|口味|香型|尺寸|几斤|几个|多少克|产地|"
                      r"哪里产|什么味|怎么样|好不好|区别|材质|有几|有哪些|的呢|呢$|几串|几盒|几袋|几包|是几|"
                      r"多少袋|多少包|哪一?年|风味|味道|有.{1,4}的吗|的有吗")
SEARCH = re.compile(r"有没有|有卖|想买|要买|找|搜|来点|来一?份|买点|买个|买些|想要|有没|卖不卖|"
                    r"卖吗|哪款|什么样的|适合")
GREETING = re.compile(r"^(你好|您好|在吗|在不在|hi|hello|嗨|哈喽|早上好|晚上好|谢谢|好的|嗯|哦|"
                      r"拜拜|再见)")

FAQ_SURE = 0.55       # a FAQ match this strong (see _faq_strength) answers as the FAQ
PRODUCT_SURE = 0.5    # a product match this strong is "the product named"


@dataclass
class Reading:
    intent: str
    confidence: float
    products: list[tuple[ProductEntry, float]] = field(default_factory=list)
    faq: Optional[FaqEntry] = None
    faq_strength: float = 0.0
    named: Optional[ProductEntry] = None   # the product the sentence names, if one clearly


def faq_strength(index: AssistantIndex, text: str, tokens: list[str]) \
        -> tuple[Optional[FaqEntry], float]:
    """The best FAQ and a strength in [0, 1]: a keyword of it said as such counts fully,
    otherwise the share of the question's weight it matches."""
    words = [t for t in tokens if len(t) >= 2]
    best = index.search_faq(words, limit=len(index.faqs))
    literal = [f for f in index.faqs if any(k and k.lower() in text for k in f.keywords)]
    if literal:
        # among FAQs whose keyword was said: the most said, a keyword its question holds
        # weighing more, then the one retrieval ranks first
        rank = {f.id: n for n, (f, _) in enumerate(best)}

        def said(f: FaqEntry) -> tuple[float, int]:
            hits = [k for k in f.keywords if k and k.lower() in text]
            return (-sum(len(k) + (0.5 if k in f.question else 0) for k in hits),
                    rank.get(f.id, len(rank)))
        return min(literal, key=said), 1.0
    if not best:
        return None, 0.0
    entry, score = best[0]
    # the share of the question's words (by weight) the best FAQ holds
    # (below a keyword said: a question in other words is never surer than the merchant's own)
    return entry, min(0.95, score / (index.faq_bm25.max_score(words) or 1.0))


def named_product(index: AssistantIndex, text: str, tokens: list[str],
                  ranked: list[tuple[ProductEntry, float]]) -> Optional[ProductEntry]:
    """The product the sentence names: its title (or a synonym's word of it) said, or a
    retrieval match far ahead of the next."""
    for entry in index.products:
        if entry.title.lower() in text:
            return entry
    if not ranked:
        return None
    top, score = ranked[0]
    if not any((len(t) >= 2 or t in index.synonym_words) and t in top.words for t in tokens):
        return None   # a character in common is no name
    second = ranked[1][1] if len(ranked) > 1 else 0.0
    scale = index.product_bm25.max_score(tokens) or 1.0
    if score >= 1.3 * max(second, 0.01) and score / scale >= PRODUCT_SURE:
        return top
    return None


def match_share(index: AssistantIndex, base: list[str],
                ranked: list[tuple[ProductEntry, float]]) -> float:
    """How much of the question's own words (synonyms aside) the best product matches."""
    if not ranked:
        return 0.0
    return ranked[0][1] / (index.product_bm25.max_score(base) or 1.0)


def classify(index: AssistantIndex, text: str, base: list[str], filters: Filters,
             context_product: Optional[str]) -> Reading:
    """``base``: the tokens of the question (its price words taken out), before synonyms."""
    text = text.lower().strip()
    tokens = index.expand(base)
    ranked = index.search_products(tokens, limit=10)
    faq, strength = faq_strength(index, text, base)
    named = named_product(index, text, base, ranked)

    def reading(intent: str, confidence: float) -> Reading:
        return Reading(intent, confidence, ranked, faq, strength, named)

    if HANDOFF.search(text):
        return reading("handoff", 1.0)
    if ORDER.search(text):
        return reading("order_status", 0.9)
    if AFTER_SALE.search(text) and not NOT_AFTER_SALE.search(text):
        return reading("after_sale", 0.9)
    if PROMOTION.search(text) and not NOT_PROMOTION.search(text):
        return reading("promotion", 0.9)
    if named is not None and QUESTION.search(text) and not SEARCH.search(text):
        return reading("product_question", 0.85)
    if context_product and named is None and (QUESTION.search(text) or filters.specs) \
            and not SEARCH.search(text):
        return reading("product_question", 0.7)
    if strength >= 1.0 or (strength >= FAQ_SURE and named is None and filters.is_empty
                           and not RECOMMEND.search(text)):
        return reading("faq", strength)
    if RECOMMEND.search(text) and named is None and filters.is_empty and \
            not (ranked and SEARCH.search(text)):
        return reading("recommend", 0.8)
    if named is not None and QUESTION.search(text):
        return reading("product_question", 0.7)
    if not filters.is_empty or (ranked and (SEARCH.search(text) or named is not None
                                            or match_share(index, base, ranked) >= 0.5)):
        return reading("product_search", 0.8)
    if RECOMMEND.search(text):
        return reading("recommend", 0.7)
    if strength >= 0.35:
        return reading("faq", strength)
    if GREETING.search(text):
        return reading("other", 0.6)
    return reading("other", 0.2)
