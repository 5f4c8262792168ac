"""Words the generated school is made of: Chinese names with a pinyin spelling for userids,
grade and class names, lesson themes and the nicknames WeChat visitors choose."""

SURNAMES = (
    ("王", "wang"), ("李", "li"), ("张", "zhang"), ("刘", "liu"), ("陈", "chen"), ("杨", "yang"),
    ("黄", "huang"), ("赵", "zhao"), ("吴", "wu"), ("周", "zhou"), ("徐", "xu"), ("孙", "sun"),
    ("马", "ma"), ("朱", "zhu"), ("胡", "hu"), ("郭", "guo"), ("何", "he"), ("高", "gao"),
    ("林", "lin"), ("罗", "luo"), ("郑", "zheng"), ("梁", "liang"), ("谢", "xie"), ("宋", "song"),
    ("唐", "tang"), ("韩", "han"), ("冯", "feng"), ("邓", "deng"), ("曹", "cao"), ("彭", "peng"),
)  # fmt: skip

GIVEN = (
    ("伟", "wei"), ("芳", "fang"), ("娜", "na"), ("敏", "min"), ("静", "jing"), ("丽", "li"),
    ("强", "qiang"), ("磊", "lei"), ("军", "jun"), ("洋", "yang"), ("勇", "yong"), ("艳", "yan"),
    ("杰", "jie"), ("涛", "tao"), ("明", "ming"), ("超", "chao"), ("秀", "xiu"), ("霞", "xia"),
    ("平", "ping"), ("欣", "xin"), ("怡", "yi"), ("梓", "zi"), ("涵", "han"), ("浩", "hao"),
    ("宇", "yu"), ("轩", "xuan"), ("萱", "xuan"), ("晨", "chen"), ("博", "bo"), ("文", "wen"),
    ("思", "si"), ("佳", "jia"), ("雨", "yu"), ("泽", "ze"), ("睿", "rui"), ("诺", "nuo"),
)  # fmt: skip

# relation as the 家校 contact book shows it, and the pinyin used in the parent's userid.
RELATIONS = (("妈妈", "mama"), ("爸爸", "baba"), ("爷爷", "yeye"), ("奶奶", "nainai"))

GRADE_NAMES = (
    "一年级", "二年级", "三年级", "四年级", "五年级", "六年级",
    "七年级", "八年级", "九年级", "高一", "高二", "高三",
)  # fmt: skip

HEAD_SUBJECT = "语文"
SUBJECTS = ("数学", "英语")

TOPICS = {
    "语文": (
        "古诗两首",
        "拼音复习",
        "看图写话",
        "课文朗读《小蝌蚪找妈妈》",
        "生字词听写",
        "阅读理解",
    ),
    "数学": (
        "20以内的加减法",
        "认识图形",
        "直角三角形讲解",
        "乘法口诀",
        "分数的初步认识",
        "应用题",
    ),
    "英语": ("Unit 3 My Family", "字母歌", "Colours", "Numbers 1-20", "Phonics", "Story time"),
}

# WeChat nicknames are free text chosen by anyone: Chinese, emoji, and strings that attack an HTML
# page or a spreadsheet. "静待花开" is listed twice on purpose: two visitors can share a nickname.
HOSTILE_NICKNAMES = (
    "<script>alert(1)</script>",
    '=HYPERLINK("x")',
    "+1",
    "@x",
    "静待花开",
    "静待花开",
)
PLAIN_NICKNAMES = ("小明妈妈", "🌸花开富贵🌸", "快乐每一天", "阳光🌞", "Tom", "奶奶", "A-李", "😀")

_DIGITS = "零一二三四五六七八九"


def chinese_number(n: int) -> str:
    """1 → 一, 10 → 十, 12 → 十二, 21 → 二十一: how class numbers are written (一年级十二班)."""
    if n < 10:
        return _DIGITS[n]
    if n >= 100:
        return str(n)
    tens, ones = divmod(n, 10)
    head = "" if tens == 1 else _DIGITS[tens]
    return f"{head}十{_DIGITS[ones] if ones else ''}"


def grade_name(index: int) -> str:
    if index < len(GRADE_NAMES):
        return GRADE_NAMES[index]
    return f"{chinese_number(index + 1)}年级"


# The schools of a generated district (district.py), the first being the one-school sandbox's.
SCHOOL_NAMES = (
    "阳光实验小学", "育才小学", "明德小学", "春晖小学", "青苗小学", "博雅小学", "启航小学",
    "城东小学", "城西小学", "滨江小学", "桃李小学", "书香小学",
)  # fmt: skip


def school_name(index: int) -> str:
    if index < len(SCHOOL_NAMES):
        return SCHOOL_NAMES[index]
    return f"第{chinese_number(index + 1)}实验小学"
