"""Reading a shopper's Chinese: tokens for retrieval, and the filters a sentence carries
(price ranges such as "100元以内", "50到80元", "两百以下"; colours and other spec values).

Tokens come from jieba (its dictionary ships in its wheel: nothing is downloaded at run time),
imported on the first question, not at import, so a cold function that never asks pays nothing.
Each word jieba finds is kept, and for Chinese words also its characters' bigrams: a shopper's
"杯子" then still meets a title's "保温杯" through "杯", and a merchant's title jieba cuts
differently from the question still shares bigrams with it.
"""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import Any, Iterable, Optional

_WORD = re.compile(r"[a-z0-9]+(?:\.[0-9]+)?")
_CJK = re.compile(r"[\u3400-\u9fff]+")
_lock = threading.Lock()
_jieba: Any = None
_added: set[str] = set()

# words that say nothing about what is wanted (question and politeness words)
STOPWORDS = frozenset("""
的 了 吗 呢 吧 啊 呀 么 嘛 哦 是 有 没 没有 有没有 我 你 他 她 它 我们 你们 想 要 想要 请 问 请问
一下 一个 个 哪些 这 那 这个 那个 什么 怎么 怎样 如何 多少 哪 哪里 哪个 可以 能 能不能 会
给 在 和 与 及 或 还 就 都 也 吗 么 呀 好 很 太 再
找 买 看 看看 帮 帮我 麻烦
元 块 钱 以内 以下 以上 左右 之间 到 至 不 超过 低于 高于 便宜 贵
一点 些 一些 东西 商品 宝贝 推荐 店 家 里 上 下 中
""".split())

CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5,
             "六": 6, "七": 7, "八": 8, "九": 9}
CN_UNITS = {"十": 10, "百": 100, "千": 1000, "万": 10000}
_NUMBER = r"(\d+(?:\.\d+)?|[零〇一二两三四五六七八九十百千万]+)"
_YUAN = r"(?:元|块钱|块|rmb|￥)?"
# "50到80元", "50-80", "50至80块"
_RANGE = re.compile(_NUMBER + _YUAN + r"\s*(?:到|至|-|~|－|—)\s*" + _NUMBER + _YUAN)
# "100元以内", "两百以下", "不超过80", "低于50块"
_UNDER_AFTER = re.compile(_NUMBER + _YUAN + r"\s*(?:以内|以下|之内|内|不到)")
_UNDER_BEFORE = re.compile(r"(?:不超过|低于|少于|不到|小于|最多)\s*" + _NUMBER + _YUAN)
_OVER_AFTER = re.compile(_NUMBER + _YUAN + r"\s*(?:以上|起)")
_OVER_BEFORE = re.compile(r"(?:超过|高于|大于|至少)\s*" + _NUMBER + _YUAN)
_ABOUT = re.compile(_NUMBER + r"(?:元|块钱|块)\s*(?:左右|上下)")

# spec values a shopper names: colour words -> the spec value in the shop's own terms
COLOURS: dict[str, str] = {"红色": "红", "红": "红", "白色": "白", "白": "白", "黑色": "黑",
                           "黑": "黑", "绿色": "绿", "绿": "绿", "蓝色": "蓝", "蓝": "蓝",
                           "粉色": "粉", "粉": "粉", "灰色": "灰", "灰": "灰", "黄色": "黄",
                           "黄": "黄", "紫色": "紫", "紫": "紫"}
_COLOUR = re.compile("|".join(sorted(COLOURS, key=len, reverse=True)))


def cn_number(text: str) -> Optional[float]:
    """``"100"``, ``"两百"``, ``"一百五十"``, ``"五十"``, ``"十"`` as a number."""
    if not text:
        return None
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        return float(text)
    total, section, digit = 0, 0, None
    for char in text:
        if char in CN_DIGITS:
            digit = CN_DIGITS[char]
        elif char in CN_UNITS:
            unit = CN_UNITS[char]
            if unit == 10000:
                total = (total + section + (digit or 0)) * unit
                section, digit = 0, None
            else:
                section += (1 if digit is None else digit) * unit
                digit = None
        else:
            return None
    return float(total + section + (digit or 0))


@dataclass
class Filters:
    """What a sentence says about the products wanted; prices in fen."""
    price_min: Optional[int] = None
    price_max: Optional[int] = None
    specs: list[str] = field(default_factory=list)   # spec values, e.g. "红"
    category_id: Optional[str] = None

    @property
    def is_empty(self) -> bool:
        return (self.price_min is None and self.price_max is None and not self.specs
                and self.category_id is None)

    def view(self) -> dict[str, Any]:
        return {"price_min": self.price_min, "price_max": self.price_max,
                "specs": list(self.specs), "category_id": self.category_id}


def _fen(number: Optional[float]) -> Optional[int]:
    return None if number is None else int(round(number * 100))


def parse_price(text: str) -> tuple[Optional[int], Optional[int], str]:
    """(min fen, max fen, the text with the price words taken out)."""
    text = text.lower()
    match = _RANGE.search(text)
    if match:
        low, high = cn_number(match.group(1)), cn_number(match.group(2))
        if low is not None and high is not None:
            low, high = min(low, high), max(low, high)
            return _fen(low), _fen(high), text[:match.start()] + " " + text[match.end():]
    for pattern, side in ((_UNDER_AFTER, "max"), (_UNDER_BEFORE, "max"),
                          (_OVER_AFTER, "min"), (_OVER_BEFORE, "min")):
        match = pattern.search(text)
        if match:
            value: Optional[int] = _fen(cn_number(match.group(1)))
            rest = text[:match.start()] + " " + text[match.end():]
            return (None, value, rest) if side == "max" else (value, None, rest)
    match = _ABOUT.search(text)
    if match:
        about = cn_number(match.group(1))
        if about is not None:
            return _fen(about * 0.8), _fen(about * 1.2), text[:match.start()] + " " + \
                text[match.end():]
    return None, None, text


def parse_filters(text: str, categories: dict[str, str]) -> tuple[Filters, str]:
    """The filters of ``text`` (``categories``: a word of a category -> its id), and the text
    left for retrieval."""
    low, high, rest = parse_price(text)
    filters = Filters(price_min=low, price_max=high)
    for word in _COLOUR.findall(rest):
        value = COLOURS[word]
        if value not in filters.specs:
            filters.specs.append(value)
    for word in sorted(categories, key=len, reverse=True):
        if word in rest:
            filters.category_id = categories[word]
            break
    return filters, rest


def _load_jieba() -> Any:
    global _jieba
    if _jieba is None:
        with _lock:
            if _jieba is None:
                import logging

                import jieba
                jieba.setLogLevel(logging.WARNING)
                jieba.initialize()
                _jieba = jieba
    return _jieba


def add_words(words: Iterable[str]) -> None:
    """Teach the tokenizer the shop's own words (product names, synonyms), so that "保温杯"
    stays one word rather than two."""
    jieba = _load_jieba()
    with _lock:
        for word in words:
            word = word.strip().lower()
            if len(word) >= 2 and word not in _added and _CJK.fullmatch(word):
                jieba.add_word(word, freq=2000)
                _added.add(word)


def tokenize(text: str) -> list[str]:
    """The retrieval tokens of ``text``: jieba's words (search mode, so a long word also gives
    its shorter words), Latin words and numbers, and the bigrams of each Chinese word."""
    text = text.lower()
    tokens: list[str] = _WORD.findall(text)
    jieba = _load_jieba()
    for run in _CJK.findall(text):
        for word in jieba.cut_for_search(run, HMM=False):
            if word in STOPWORDS:
                continue
            tokens.append(word)
            if len(word) > 2:
                tokens.extend(word[i:i + 2] for i in range(len(word) - 1))
            if len(word) >= 2:
                tokens.extend(char for char in word if char not in STOPWORDS)
    return tokens
