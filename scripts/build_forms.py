"""Write the bundled questionnaires as XLSForm workbooks in ``surveys/forms/``.

Run with ``.venv/bin/python scripts/build_forms.py [DIR]`` (DIR: somewhere else than
``surveys/forms/``). The workbooks are ordinary XLSForms (sheets ``survey``, ``choices``,
``settings``, and ``entities`` for the forms that keep the households register) that staff
may later open and edit in Excel or WPS; this script is only how the shipped versions were
first written, so keep them readable: one question per row, Chinese before English, columns
wide enough to read without resizing. Running it twice writes the same bytes.

The households register (issue 16): ``home_adaptation`` creates a household when a visit is
finished (its head, address, community, phone, members, plan and state); the return visit
after the works (``home_adaptation_followup``) and the visits to older people living alone
(``lonely_elderly_visit``) pick a household with ``select_one_from_file households.csv`` and
update it.
"""

from __future__ import annotations

import datetime as dt
import re
import sys
import zipfile
from io import BytesIO
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

FORMS_DIR = Path(__file__).resolve().parent.parent / "surveys" / "forms"
VERSION = "2026112301"
# A changed form gets a new version (the kiosk keys forms by version); the others keep theirs.
VERSIONS = {"home_adaptation": "2026120701", "home_adaptation_followup": "2026120701",
            "lonely_elderly_visit": "2026120701"}
# Fixed file times, so re-running the script leaves unchanged forms byte-for-byte the same
# (the kiosk keys a form's source by its SHA-256).
FIXED_TIME = dt.datetime(2026, 11, 23)
ZH = "中文 (zh)"
EN = "English (en)"

# Survey-sheet columns, in the order staff see them.
SURVEY_COLUMNS = [
    "type", "name", f"label::{ZH}", f"label::{EN}", f"hint::{ZH}", f"hint::{EN}",
    "required", f"required_message::{ZH}", f"required_message::{EN}",
    "relevant", "constraint", f"constraint_message::{ZH}", f"constraint_message::{EN}",
    "calculation", "choice_filter", "default", "read_only", "appearance", "pii",
]
# Columns written only in the forms that use them (so the other workbooks stay byte-for-byte
# the same): each goes after the column named.
OPTIONAL_COLUMNS = {"repeat_count": "calculation", "save_to": "pii"}
ENTITY_COLUMNS = ["list_name", "label", "entity_id", "create_if", "update_if"]
COLUMN_WIDTHS = {
    "type": 34, "name": 22, f"label::{ZH}": 46, f"label::{EN}": 46, f"hint::{ZH}": 34,
    f"hint::{EN}": 34, "required": 12, f"required_message::{ZH}": 24,
    f"required_message::{EN}": 24, "relevant": 40, "constraint": 40,
    f"constraint_message::{ZH}": 34, f"constraint_message::{EN}": 34, "calculation": 60,
    "choice_filter": 36, "default": 12, "read_only": 10, "appearance": 12, "pii": 6,
    "list_name": 20, "form_title": 24, f"kiosk_title::{EN}": 36, "form_id": 18,
    "version": 14, "default_language": 18, "review": 10, "draft_on_idle": 16,
    "repeat_count": 24, "save_to": 14, "label": 40, "entity_id": 20,
}
HEADER_FONT = Font(bold=True)
HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")

Row = dict[str, Any]


# ---- row helpers ------------------------------------------------------------------------


def q(kind: str, name: str, zh: str = "", en: str = "", **extra: Any) -> Row:
    """One survey row. Pairs (zh, en) for hint / required_msg / constraint_msg."""
    row: Row = {"type": kind, "name": name, f"label::{ZH}": zh, f"label::{EN}": en}
    for key, value in extra.items():
        if key in ("hint", "required_msg", "constraint_msg"):
            column = {"hint": "hint", "required_msg": "required_message",
                      "constraint_msg": "constraint_message"}[key]
            row[f"{column}::{ZH}"], row[f"{column}::{EN}"] = value
        else:
            row[key] = value
    return row


def end_group() -> Row:
    return {"type": "end_group"}


def metadata() -> list[Row]:
    """Interview start/end and the day, filled in by the kiosk and never shown."""
    return [q("start", "start"), q("end", "end"), q("today", "today")]


def choices(list_name: str, entries: list[tuple[Any, ...]], **columns: str) -> list[Row]:
    """Choice rows from (name, zh, en[, extra column values in ``columns`` order])."""
    rows = []
    for name, zh, en, *rest in entries:
        row: Row = {"list_name": list_name, "name": name, f"label::{ZH}": zh, f"label::{EN}": en}
        for column, value in zip(columns, rest, strict=True):
            row[column] = value
        rows.append(row)
    return rows


def none_alone(choice: str = "none") -> str:
    """Constraint: a 'none of these' choice cannot be ticked together with another."""
    return f"not(selected(., '{choice}') and count-selected(.) > 1)"


# No “” in form text: pyxform turns curly quotes into ASCII ones in every cell, so button
# names are set off with 【】 instead.
NONE_ALONE_MSG = ("选了最后一项（都没有），就不能再选其他项，请再看一下。",
                  "The last choice (none) cannot be ticked together with others.")
YES_NO = [("yes", "是", "Yes"), ("no", "否", "No")]
LIKERT = [
    # 5 first: Chinese questionnaires list 非常满意 at the top.
    ("5", "非常满意", "Very satisfied"),
    ("4", "满意", "Satisfied"),
    ("3", "一般", "Neutral"),
    ("2", "不满意", "Dissatisfied"),
    ("1", "非常不满意", "Very dissatisfied"),
]
# Communities and estates of a sample street in Jiangsu; stations replace them with their own.
COMMUNITIES = [
    ("liangfeng", "梁丰社区", "Liangfeng Community"),
    ("nanyuan", "南苑社区", "Nanyuan Community"),
    ("chengbei", "城北社区", "Chengbei Community"),
    ("jingang", "金港花园社区", "Jingang Garden Community"),
    ("other", "其他社区", "Another community"),
]
ESTATES = [
    ("liangfeng_huayuan", "梁丰花园", "Liangfeng Garden", "liangfeng"),
    ("kangle_xincun", "康乐新村", "Kangle New Village", "liangfeng"),
    ("nanyuan_xincun", "南苑新村", "Nanyuan New Village", "nanyuan"),
    ("fuqian", "福前小区", "Fuqian Estate", "nanyuan"),
    ("chengbei_xincun", "城北新村", "Chengbei New Village", "chengbei"),
    ("beihuan_huayuan", "北环花苑", "Beihuan Garden", "chengbei"),
    ("jingang_1", "金港花园一期", "Jingang Garden Phase 1", "jingang"),
    ("jingang_2", "金港花园二期", "Jingang Garden Phase 2", "jingang"),
    ("other", "其他小区（不在上面）", "Another estate (not listed)", "any"),
]


# ---- 社区服务满意度调查 ---------------------------------------------------------------


def satisfaction() -> tuple[list[Row], list[Row], Row]:
    # name, choice label (zh, en), how the question names it in English, hint (zh, en)
    services = [
        ("elderly", "为老服务", "Services for older people", "services for older people",
         "例如助餐、上门探访、健康讲座。", "E.g. meals, home visits, health talks."),
        ("children", "儿童关爱", "Child care", "child care services",
         "例如四点半课堂、假期托管。", "E.g. after-school class, holiday care."),
        ("hardship", "困难帮扶", "Help in hardship", "help for families in hardship",
         "例如低保、临时救助、走访慰问。", "E.g. subsistence allowance, emergency aid, visits."),
        ("disability", "助残服务", "Disability services", "services for people with "
         "disabilities", "例如康复、辅具、就业帮扶。", "E.g. rehabilitation, aids, job support."),
        ("hall", "便民服务大厅办事", "Service hall", "the service hall",
         "例如社保、补贴、开证明。", "E.g. social insurance, subsidies, certificates."),
    ]
    survey = [
        *metadata(),
        q("note", "intro",
          "您好！这是社区服务满意度调查，大约需要5分钟。不用写名字，您的意见只用来改进社区服务。",
          "Hello! This survey about community services takes about 5 minutes. It is anonymous; "
          "your views are used only to improve our services."),
        q("select_one groups", "respondent_group", "您属于下面哪一类居民？",
          "Which group of residents do you belong to?", required="yes",
          hint=("如果有几类，请选最主要的一类。",
                "If more than one applies, choose the main one.")),
        q("select_one age_bands", "age_band", "您的年龄是？", "How old are you?", required="yes"),
        q("select_one communities", "community", "您住在哪个社区？",
          "Which community do you live in?", required="yes"),
        q("select_one estates", "estate", "您住在哪个小区？",
          "Which housing estate do you live in?",
          required="yes", relevant="${community} != 'other'",
          choice_filter="community = ${community} or community = 'any'"),
        q("text", "estate_text", "请写一下您住的社区或小区名称。",
          "Please write the name of your community or estate.",
          relevant="${community} = 'other' or ${estate} = 'other'",
          constraint="string-length(.) <= 30",
          constraint_msg=("请用30个字以内填写。", "Please use at most 30 characters.")),
        q("select_one likert", "overall", "总的来说，您对社区的工作满意吗？",
          "Overall, how satisfied are you with the community's work?",
          required="yes", appearance="likert",
          required_msg=("请选一个满意程度。", "Please choose how satisfied you are.")),
        q("text", "unsatisfied_reason", "哪些地方让您不满意？请简单说一说。",
          "What were you unhappy with? Please tell us briefly.",
          relevant="${overall} <= 2", constraint="string-length(.) <= 300",
          hint=("可以不填。", "You may leave this empty."),
          constraint_msg=("请用300个字以内说明。", "Please use at most 300 characters.")),
        q("select_multiple services", "services_used", "这一年里，您用过下面哪些服务？（可多选）",
          "Which of these services have you used in the past year? (Tick all that apply)",
          required="yes", constraint=none_alone(), constraint_msg=NONE_ALONE_MSG),
        *[
            q("select_one likert", f"sat_{name}", f"您对{zh}满意吗？",
              f"How satisfied are you with {en_phrase}?", required="yes", appearance="likert",
              relevant=f"selected(${{services_used}}, '{name}')", hint=(zh_hint, en_hint))
            for name, zh, _en, en_phrase, zh_hint, en_hint in services
        ],
        q("select_one likert", "sat_environment", "您对社区环境（卫生、绿化、治安）满意吗？",
          "How satisfied are you with the neighbourhood (cleanliness, greenery, safety)?",
          required="yes", appearance="likert"),
        q("select_multiple improvements or_other", "improvements",
          "您最希望社区先办哪些实事？（最多选3项）",
          "Which projects should the community do first? (Choose up to 3)",
          required="yes", constraint="count-selected(.) <= 3",
          constraint_msg=("最多选3项，请去掉一些再继续。",
                          "Please choose at most 3, then continue.")),
        q("text", "suggestion", "您对社区工作还有什么意见或建议？",
          "Any other comments or suggestions for the community?",
          constraint="string-length(.) <= 300",
          hint=("可以不填。", "You may leave this empty."),
          constraint_msg=("请用300个字以内填写。", "Please use at most 300 characters.")),
        q("note", "thanks", "谢谢您的参与！请点【完成】提交。",
          "Thank you for taking part! Tap \"Finish\" to submit."),
    ]
    choice_rows = [
        *choices("groups", [
            ("elderly", "老年人", "Older person"),
            ("youth", "青少年", "Young person"),
            ("hardship", "困难群体", "Person in hardship"),
            ("disabled", "残疾人", "Person with a disability"),
            ("other", "其他居民", "Other resident"),
        ]),
        *choices("age_bands", [
            ("under_18", "18岁以下", "Under 18"),
            ("18_35", "18–35岁", "18–35"),
            ("36_59", "36–59岁", "36–59"),
            ("60_69", "60–69岁", "60–69"),
            ("70_79", "70–79岁", "70–79"),
            ("80_plus", "80岁及以上", "80 or older"),
        ]),
        *choices("communities", COMMUNITIES),
        *choices("estates", ESTATES, community="community"),
        *choices("likert", LIKERT),
        *choices("services", [
            *[(name, zh, en) for name, zh, en, *_ in services],
            ("none", "都没有用过", "None of these"),
        ]),
        *choices("improvements", [
            ("parking", "停车位改造（有车有位）", "More parking spaces"),
            ("ebike_charging", "电瓶车充电装置（能量满满）", "E-bike charging points"),
            ("stair_lighting", "楼梯照明更新（亮亮堂堂）", "Better stairwell lighting"),
            ("pets", "文明养宠（宠爱有法）", "Responsible pet keeping"),
            ("elevator", "老楼加装电梯", "Lifts for old buildings"),
            ("canteen", "老年助餐点（长者食堂）", "Meal service for older people"),
            ("after_school", "四点半课堂", "After-school class"),
            ("fitness", "健身休闲场地", "Places to exercise and relax"),
            ("waste", "垃圾分类", "Waste sorting"),
        ]),
    ]
    settings = {"form_title": "社区服务满意度调查",
                f"kiosk_title::{EN}": "Community Service Satisfaction Survey",
                "form_id": "satisfaction", "review": "no", "draft_on_idle": "discard"}
    return survey, choice_rows, settings


# ---- 婚俗改革问卷 -------------------------------------------------------------------


def marriage_reform() -> tuple[list[Row], list[Row], Row]:
    own_wedding = "${marital_status} = 'married' or ${marital_status} = 'engaged'"
    survey = [
        *metadata(),
        q("note", "intro",
          "您好！为了倡导婚事新办、简办，我们想听听您对彩礼、婚宴等的看法。不用写名字。",
          "Hello! To promote simple, thrifty weddings we would like your views on bride price "
          "and wedding banquets. The survey is anonymous."),
        q("select_one gender", "gender", "您的性别是？", "Are you male or female?",
          required="yes"),
        q("select_one age_bands", "age_band", "您的年龄是？", "How old are you?", required="yes"),
        q("select_one marital_status", "marital_status", "您现在的婚姻状况是？",
          "What is your marital status?", required="yes"),
        q("select_one bride_price_views", "bride_price_view", "您怎么看待彩礼？",
          "What do you think of the bride price (caili)?", required="yes"),
        q("integer", "bride_price_amount", "您觉得彩礼多少钱比较合理？（单位：元）",
          "How much bride price do you think is reasonable? (yuan)",
          required="yes", relevant="${bride_price_view} != 'abolish'",
          constraint=". >= 0 and . <= 500000",
          hint=("只填数字，例如 10000；觉得不要彩礼请填 0。",
                "Numbers only, e.g. 10000; enter 0 for no bride price."),
          constraint_msg=("请填0到500000之间的数（单位：元）。",
                          "Please enter a number from 0 to 500,000 (yuan).")),
        q("select_one burden", "bride_price_burden", "您觉得本地彩礼给家庭带来的负担重吗？",
          "How heavy a burden is the local bride price on families?", required="yes"),
        q("begin_group", "own_wedding", "您自己的婚事", "Your own wedding",
          relevant=own_wedding),
        q("select_one amount_bands", "own_bride_price",
          "您结婚（或准备结婚）时，彩礼大约是多少？",
          "About how much was (or will be) the bride price at your wedding?",
          required="yes"),
        q("integer", "own_tables", "婚宴办了（或打算办）多少桌？",
          "How many banquet tables did (or will) your wedding have?",
          required="yes", constraint=". >= 0 and . <= 100",
          hint=("不办酒席请填 0。", "Enter 0 if there was no banquet."),
          constraint_msg=("请填0到100之间的桌数。", "Please enter 0 to 100 tables.")),
        q("select_one spending_bands", "own_spending",
          "婚事总共花了（或打算花）多少钱？（含彩礼、酒席、婚车、首饰等）",
          "About how much did (or will) the whole wedding cost? (bride price, banquet, cars, "
          "jewellery)", required="yes"),
        q("select_one yes_no", "own_borrowed", "家里有没有为办婚事借钱？",
          "Did the family borrow money for the wedding?", required="yes"),
        end_group(),
        q("select_one table_bands", "reasonable_tables", "您觉得婚宴办多少桌比较合适？",
          "How many banquet tables do you think is right for a wedding?", required="yes"),
        q("select_one willing", "group_wedding", "您愿意参加（或支持家人参加）集体婚礼吗？",
          "Would you join (or support a family member joining) a group wedding?",
          required="yes",
          hint=("集体婚礼由镇（街道）统一组织，简朴又热闹。",
                "The town (street) organises it: simple and festive.")),
        q("select_multiple group_wedding_reasons or_other", "group_wedding_reasons",
          "不愿意的原因是什么？（可多选）", "Why not? (Tick all that apply)",
          required="yes", relevant="${group_wedding} = 'no'"),
        q("select_one willing", "matchmaking", "您愿意参加社区或单位组织的青年联谊交友活动吗？",
          "Would you take part in social events for young singles run by the community or "
          "employers?", required="yes", relevant="${marital_status} = 'single'"),
        q("select_multiple activity_types", "matchmaking_types",
          "您喜欢哪种形式的联谊活动？（可多选）",
          "Which kinds of events would you like? (Tick all that apply)",
          required="yes",
          relevant="${marital_status} = 'single' and ${matchmaking} != 'no'"),
        q("select_multiple measures", "reform_measures",
          "下面这些移风易俗的做法，您支持哪些？（可多选）",
          "Which of these measures for thrifty weddings do you support? (Tick all that apply)",
          required="yes", constraint=none_alone(), constraint_msg=NONE_ALONE_MSG),
        q("text", "comment", "关于婚事新办，您还有什么想法？",
          "Any other thoughts on simpler weddings?", constraint="string-length(.) <= 300",
          hint=("可以不填。", "You may leave this empty."),
          constraint_msg=("请用300个字以内填写。", "Please use at most 300 characters.")),
        q("note", "thanks", "谢谢您的参与！请点【完成】提交。",
          "Thank you for taking part! Tap \"Finish\" to submit."),
    ]
    choice_rows = [
        *choices("gender", [("male", "男", "Male"), ("female", "女", "Female")]),
        *choices("age_bands", [
            ("18_25", "18–25岁", "18–25"),
            ("26_30", "26–30岁", "26–30"),
            ("31_35", "31–35岁", "31–35"),
            ("36_45", "36–45岁", "36–45"),
            ("46_59", "46–59岁", "46–59"),
            ("60_plus", "60岁及以上", "60 or older"),
        ]),
        *choices("marital_status", [
            ("single", "未婚", "Single"),
            ("engaged", "已订婚，准备结婚", "Engaged"),
            ("married", "已婚", "Married"),
            ("divorced_widowed", "离异或丧偶", "Divorced or widowed"),
        ]),
        *choices("bride_price_views", [
            ("abolish", "不应该要彩礼", "There should be no bride price"),
            ("symbolic", "可以有，但应少而象征性", "Acceptable if small and symbolic"),
            ("custom", "按当地习俗来", "Follow local custom"),
            ("more_face", "彩礼多才有面子", "A bigger bride price brings more face"),
        ]),
        *choices("burden", [
            ("very_heavy", "很重", "Very heavy"),
            ("heavy", "比较重", "Fairly heavy"),
            ("moderate", "一般", "Moderate"),
            ("light", "不重", "Light"),
            ("unknown", "不清楚", "Don't know"),
        ]),
        *choices("amount_bands", [
            ("none", "没有彩礼", "No bride price"),
            ("under_10k", "1万元以下", "Under 10,000 yuan"),
            ("10k_50k", "1万–5万元", "10,000–50,000 yuan"),
            ("50k_100k", "5万–10万元", "50,000–100,000 yuan"),
            ("100k_200k", "10万–20万元", "100,000–200,000 yuan"),
            ("over_200k", "20万元以上", "Over 200,000 yuan"),
            ("not_say", "不方便说", "Prefer not to say"),
        ]),
        *choices("spending_bands", [
            ("under_50k", "5万元以下", "Under 50,000 yuan"),
            ("50k_100k", "5万–10万元", "50,000–100,000 yuan"),
            ("100k_200k", "10万–20万元", "100,000–200,000 yuan"),
            ("200k_300k", "20万–30万元", "200,000–300,000 yuan"),
            ("over_300k", "30万元以上", "Over 300,000 yuan"),
            ("not_say", "不方便说", "Prefer not to say"),
        ]),
        *choices("yes_no", YES_NO),
        *choices("table_bands", [
            ("none", "不办酒席，一家人吃顿饭", "No banquet, just a family meal"),
            ("up_to_10", "10桌以内", "Up to 10 tables"),
            ("11_20", "11–20桌", "11–20 tables"),
            ("21_30", "21–30桌", "21–30 tables"),
            ("over_30", "30桌以上", "More than 30 tables"),
        ]),
        *choices("willing", [
            ("yes", "愿意", "Yes"),
            ("maybe", "看情况", "Maybe"),
            ("no", "不愿意", "No"),
        ]),
        *choices("group_wedding_reasons", [
            ("not_grand", "不够隆重", "Not grand enough"),
            ("elders_object", "家里老人不同意", "The elders in the family object"),
            ("gossip", "怕别人说闲话", "Worried about gossip"),
            ("unfamiliar", "不了解集体婚礼", "Don't know what it is like"),
        ]),
        *choices("activity_types", [
            ("outdoor", "户外拓展、徒步", "Outdoor activities, hiking"),
            ("salon", "读书、手工沙龙", "Reading or craft salons"),
            ("volunteer", "一起做志愿服务", "Volunteering together"),
            ("sports", "运动健身", "Sports and fitness"),
            ("matchmaking", "相亲交友会", "Matchmaking meet-ups"),
        ]),
        *choices("measures", [
            ("low_bride_price", "倡导零彩礼、低彩礼", "Promote no or low bride price"),
            ("limit_banquet", "限定婚宴桌数和标准", "Limit banquet size and cost"),
            ("group_wedding", "举办集体婚礼、简约婚礼", "Hold group or simple weddings"),
            ("cadres_lead", "党员干部带头", "Party members and officials lead by example"),
            ("council", "红白理事会监督、引导", "Village wedding-and-funeral councils guide"),
            ("none", "都不支持", "None of these"),
        ]),
    ]
    settings = {"form_title": "婚俗改革问卷", f"kiosk_title::{EN}": "Marriage Custom Reform Survey",
                "form_id": "marriage_reform", "review": "no", "draft_on_idle": "discard"}
    return survey, choice_rows, settings


# ---- 适老化改造需求评估 ---------------------------------------------------------------

# The difficulties the assessment asks about (choice lists shared by the questions and the
# plan, so each recommended item can give the words the volunteer ticked as its reason).
MOBILITY = [
    ("independent", "能自己走路", "Walks independently"),
    ("cane", "要拄拐杖或用助行器", "Uses a cane or walker"),
    ("wheelchair", "坐轮椅", "Uses a wheelchair"),
    ("bedridden", "卧床", "Bedridden"),
]
CONDITIONS = [
    ("poor_sight", "眼神不好", "Poor eyesight"),
    ("poor_hearing", "耳朵背", "Hard of hearing"),
    ("heart", "有心脑血管病（高血压、心脏病等）", "Heart or blood-pressure illness"),
    ("memory", "记性差、容易糊涂", "Memory problems or confusion"),
    ("fell", "过去一年摔倒过", "Fell in the past year"),
    ("none", "都没有", "None of these"),
]
BATH_PROBLEMS = [
    ("slippery", "地面湿滑", "Slippery floor"),
    ("toilet_low", "上厕所起身困难", "Hard to get up from the toilet"),
    ("unsteady_shower", "洗澡时站不稳", "Unsteady when showering"),
    ("no_grab_bar", "没有可以扶的地方", "Nothing to hold on to"),
    ("dark_at_night", "夜里去厕所看不清", "Too dark at night"),
    ("threshold", "门槛或高低差容易绊倒", "Threshold or step to trip on"),
    ("none", "没有不方便", "No difficulty"),
]
BEDROOM_PROBLEMS = [
    ("bed_hard", "上下床困难", "Hard to get in and out of bed"),
    ("light_switch", "夜里开灯不方便", "Hard to switch on a light at night"),
    ("clutter", "地上有杂物、电线，容易绊倒", "Clutter or cables to trip on"),
    ("none", "没有不方便", "No difficulty"),
]
STAIRS_PROBLEMS = [
    ("stairs_hard", "上下楼梯吃力", "Stairs are hard to climb"),
    ("no_rail", "楼梯没有扶手", "No handrail on the stairs"),
    ("dark", "楼道光线暗", "Dark stairwell"),
    ("step_at_door", "门口有台阶，进出不方便", "Steps at the door"),
    ("none", "没有不方便", "No difficulty"),
]
KITCHEN_PROBLEMS = [
    ("slippery", "地面湿滑", "Slippery floor"),
    ("too_high", "灶台、橱柜太高够不着", "Worktop or cupboards too high"),
    ("gas", "常忘关煤气或火", "Often forgets to turn off the gas"),
    ("none", "没有不方便", "No difficulty"),
]
# question -> its choices; select_multiple ones are read with selected(), mobility with =.
DIFFICULTIES = {"bath_difficulty": BATH_PROBLEMS, "bedroom_difficulty": BEDROOM_PROBLEMS,
                "stairs_difficulty": STAIRS_PROBLEMS, "kitchen_difficulty": KITCHEN_PROBLEMS,
                "conditions": CONDITIONS, "mobility": MOBILITY}
# A reason sits in the item's （） with others, joined by 、: a label with brackets or a 、
# of its own is said shorter there.
SHORT_REASONS = {
    ("conditions", "heart"): ("有心脑血管病", "Heart or blood-pressure illness"),
    ("conditions", "memory"): ("记性差，容易糊涂", "Memory problems or confusion"),
    ("bedroom_difficulty", "clutter"): ("地上有杂物或电线", "Clutter or cables to trip on"),
    ("kitchen_difficulty", "too_high"): ("灶台或橱柜太高", "Worktop or cupboards too high"),
    ("stairs_difficulty", "step_at_door"): ("门口有台阶", "Steps at the door"),
}
Reason = tuple[str, str, str]  # XLSForm rule, Chinese reason, English reason


def because(question: str, choice: str) -> Reason:
    """The rule "this choice was ticked" and the choice's words, as an item's reason."""
    labels = {name: (zh, en) for name, zh, en in DIFFICULTIES[question]}
    zh, en = SHORT_REASONS.get((question, choice), labels[choice])
    rule = (f"${{{question}}} = '{choice}'" if question == "mobility"
            else f"selected(${{{question}}}, '{choice}')")
    return rule, zh, en[0].lower() + en[1:]


# Whom the older person lives with, one by one (the older person is the head).
RELATIONS = [
    ("spouse", "老伴", "Spouse"),
    ("son", "儿子", "Son"),
    ("daughter", "女儿", "Daughter"),
    ("child_in_law", "儿媳或女婿", "Daughter- or son-in-law"),
    ("grandchild", "孙子女或外孙子女", "Grandchild"),
    ("sibling", "兄弟姐妹", "Brother or sister"),
    ("carer", "保姆或护工", "Carer or helper"),
    ("other", "其他亲友", "Other relative or friend"),
]


def household_members() -> list[Row]:
    """Everyone else who lives in the home (household_size - 1 of them), three screens each:
    name and age, how they are related, how they get around and whether they need care."""
    return [
        q("begin_repeat", "members", "同住的家人", "Person living in the home",
          repeat_count="${household_size} - 1"),
        q("begin_group", "member", "同住家人的情况", "About this person",
          appearance="field-list"),
        q("text", "member_name", "姓名或称呼", "Name", required="yes", pii="yes",
          constraint="string-length(.) <= 20",
          hint=("例如：李建国，或：大儿子。", "E.g. Li Jianguo, or: eldest son."),
          constraint_msg=("请用20个字以内填写。", "Please use at most 20 characters.")),
        q("integer", "member_age", "年龄", "Age", required="yes",
          constraint=". >= 0 and . <= 120",
          constraint_msg=("请填0到120之间的年龄。", "Please enter an age from 0 to 120.")),
        end_group(),
        q("select_one relations", "member_relation", "${member_name}是老人的什么人？",
          "How is ${member_name} related to the older person?", required="yes"),
        q("begin_group", "member_care", "${member_name}的行动和照护",
          "How ${member_name} gets around", appearance="field-list"),
        q("select_one mobility", "member_mobility", "平时怎么行动？",
          "How does this person get around?", required="yes"),
        q("select_one yes_no", "member_needs_care", "需要别人照护吗？",
          "Does this person need care from others?", required="yes"),
        end_group(),
        q("calculate", "member_older", calculation="if(${member_age} >= 60, 1, 0)"),
        {"type": "end_repeat"},
        # How many of them are older people too: the plan and the return visits are for
        # them as well.
        q("calculate", "older_members", calculation="sum(${member_older})",
          save_to="older_members"),
    ]


LIVES_ALONE: Reason = ("${household_size} = 1", "独居", "lives alone")
ALONE_IN_DAYTIME: Reason = ("${alone_daytime} = 'yes'", "白天常独自在家",
                            "often home alone in the daytime")

# Where the plan groups its items, in the order of the visit: (name, Chinese, English).
PLAN_ROOMS = [
    ("bath", "卫生间", "Bathroom"),
    ("bedroom", "卧室", "Bedroom"),
    ("stairs", "楼梯和进出门", "Stairs and entrance"),
    ("kitchen", "厨房", "Kitchen"),
    ("home", "全屋", "Whole home"),
]
# Each recommended item: calculate name, room, Chinese and English name, and the reasons
# that call for it (any one is enough). Every difficulty the form asks about is the reason
# for at least one item; tests/test_bundled_forms.py checks that for each choice.
ADAPTATIONS: list[tuple[str, str, str, str, list[Reason]]] = [
    ("rec_bath_grab_bar", "bath", "扶手", "grab bars",
     [because("bath_difficulty", "no_grab_bar"), because("bath_difficulty", "toilet_low"),
      because("bath_difficulty", "unsteady_shower")]),
    ("rec_bath_anti_slip", "bath", "防滑地面", "anti-slip flooring",
     [because("bath_difficulty", "slippery"), because("conditions", "fell")]),
    ("rec_toilet_riser", "bath", "坐便增高器", "raised toilet seat",
     [because("bath_difficulty", "toilet_low")]),
    ("rec_shower_chair", "bath", "淋浴椅", "shower chair",
     [because("bath_difficulty", "unsteady_shower"), because("mobility", "wheelchair")]),
    ("rec_bath_night_light", "bath", "感应夜灯", "motion-sensor night light",
     [because("bath_difficulty", "dark_at_night")]),
    ("rec_bath_threshold", "bath", "去掉门槛或加斜坡垫", "threshold removed or ramped",
     [because("bath_difficulty", "threshold")]),
    ("rec_bed_rail", "bedroom", "床边扶手", "bedside rail",
     [because("bedroom_difficulty", "bed_hard"), because("mobility", "cane")]),
    ("rec_care_bed", "bedroom", "护理床", "care bed", [because("mobility", "bedridden")]),
    ("rec_bed_light", "bedroom", "床头开关或感应夜灯", "bedside switch or night light",
     [because("bedroom_difficulty", "light_switch"), because("conditions", "poor_sight")]),
    ("rec_tidy", "bedroom", "清理杂物并固定电线", "clutter cleared and cables fixed",
     [because("bedroom_difficulty", "clutter")]),
    ("rec_stair_rail", "stairs", "楼梯扶手", "stair handrail",
     [because("stairs_difficulty", "stairs_hard"), because("stairs_difficulty", "no_rail")]),
    ("rec_stair_light", "stairs", "楼道感应灯", "motion-sensor stair lights",
     [because("stairs_difficulty", "dark")]),
    ("rec_ramp", "stairs", "门口坡道", "ramp at the door",
     [because("stairs_difficulty", "step_at_door"), because("mobility", "wheelchair")]),
    ("rec_kitchen_anti_slip", "kitchen", "防滑地面", "anti-slip flooring",
     [because("kitchen_difficulty", "slippery")]),
    ("rec_kitchen_reach", "kitchen", "调低灶台或加装下拉式吊柜",
     "lower worktop or pull-down shelves", [because("kitchen_difficulty", "too_high")]),
    ("rec_gas_alarm", "kitchen", "燃气泄漏报警器", "gas leak alarm",
     [because("kitchen_difficulty", "gas"), because("conditions", "memory")]),
    ("rec_gas_valve", "kitchen", "燃气自动切断阀", "automatic gas shut-off valve",
     [because("kitchen_difficulty", "gas")]),
    ("rec_emergency_call", "home", "紧急呼叫器", "emergency call button",
     [LIVES_ALONE, ALONE_IN_DAYTIME, because("mobility", "bedridden"),
      because("conditions", "heart"), because("conditions", "fell")]),
    ("rec_doorbell", "home", "闪光门铃", "flashing doorbell",
     [because("conditions", "poor_hearing")]),
    ("rec_tracker", "home", "防走失定位手环", "GPS wristband in case of getting lost",
     [because("conditions", "memory")]),
]


def _joined(parts: list[tuple[str, str]], separator: str) -> str:
    """XPath: the texts whose condition holds, joined by ``separator`` (ODK substr counts
    from 0, so substr(…, len) drops the leading separator)."""
    pieces = ", ".join(f"if({condition}, {text}, '')" for condition, text in parts)
    return f"substr(concat({pieces}, ''), {len(separator)})"


def plan_calculations() -> list[Row]:
    """The plan as the form shows and stores it: one flag per item, then per room the
    items with their reasons, then the whole plan grouped by room, in both languages:
    卫生间：扶手（没有可以扶的地方）、防滑地面（地面湿滑）；厨房：燃气泄漏报警器（常忘关煤气或火）.
    ``kiosk.printing.receipts.plan_items`` reads that text back for the printed plan."""
    rows = [q("calculate", name, calculation="if(" + " or ".join(
        rule for rule, _zh, _en in reasons) + ", 1, 0)")
        for name, _room, _zh, _en, reasons in ADAPTATIONS]
    rows.append(q("calculate", "rec_count",
                  calculation=" + ".join(f"${{{name}}}" for name, *_ in ADAPTATIONS)))
    for language, item_sep, open_, close in (("zh", "、", "（", "）"), ("en", ", ", " (", ")")):
        suffix = "" if language == "zh" else "_en"
        for room, *_ in PLAN_ROOMS:
            items = []
            for name, where, zh, en, reasons in ADAPTATIONS:
                if where != room:
                    continue
                why = _joined([(rule, f"'{item_sep}{zh_why if language == 'zh' else en_why}'")
                               for rule, zh_why, en_why in reasons], item_sep)
                label = zh if language == "zh" else en
                items.append((f"${{{name}}} = 1",
                              f"concat('{item_sep}{label}{open_}', {why}, '{close}')"))
            rows.append(q("calculate", f"plan_{room}{suffix}",
                          calculation=_joined(items, item_sep)))
        room_sep, colon = ("；", "：") if language == "zh" else ("; ", ": ")
        rooms = _joined([(f"${{plan_{room}{suffix}}} != ''",
                          f"concat('{room_sep}{zh if language == 'zh' else en}{colon}', "
                          f"${{plan_{room}{suffix}}})") for room, zh, en in PLAN_ROOMS],
                        room_sep)
        nothing = "暂不需要改造" if language == "zh" else "no adaptation needed for now"
        rows.append(q("calculate", f"plan{suffix}", save_to=f"plan{suffix}",
                      calculation=f"if(${{rec_count}} = 0, '{nothing}', {rooms})"))
    # The items by name, as a select_multiple value (bath_grab_bar stair_rail): the return
    # visit offers exactly these to tick as installed.
    rows.append(q("calculate", "plan_items", save_to="plan_items", calculation=_joined(
        [(f"${{{name}}} = 1", f"' {item_name(name)}'") for name, *_ in ADAPTATIONS], " ")))
    return rows


def item_name(flag: str) -> str:
    """The choice name of a recommended item (rec_bath_grab_bar → bath_grab_bar)."""
    return flag.removeprefix("rec_")


def home_adaptation() -> tuple[list[Row], list[Row], Row]:
    def room(name: str, zh: str, en: str) -> list[Row]:
        return [
            q("begin_group", f"room_{name}", zh, en, appearance="field-list"),
            q(f"select_multiple {name}_problems", f"{name}_difficulty",
              f"{zh}里，老人有哪些不方便？（可多选）",
              f"What is difficult for the older person in the {en.lower()}? "
              "(Tick all that apply)",
              required="yes", constraint=none_alone(), constraint_msg=NONE_ALONE_MSG),
            q("text", f"{name}_remarks", "其他情况（可以不填）", "Anything else (optional)",
              constraint="string-length(.) <= 200",
              constraint_msg=("请用200个字以内填写。", "Please use at most 200 characters.")),
            end_group(),
        ]

    survey = [
        *metadata(),
        q("note", "intro",
          "适老化改造入户评估：请志愿者当面询问老人或家属，按实际情况填写。",
          "Home adaptation visit: volunteers ask the older person or family and record what "
          "they find."),
        q("date", "visit_date", "走访日期", "Date of the visit", required="yes",
          default="today()", constraint=". <= today()", save_to="last_visit",
          constraint_msg=("走访日期不能晚于今天。", "The visit date cannot be after today.")),
        # The older person is the household's head in the register: their name, community,
        # address and phone are what the return visits search by.
        q("begin_group", "resident", "老人信息", "Resident", appearance="field-list"),
        q("text", "resident_name", "老人姓名", "Name of the older person", required="yes",
          pii="yes", constraint="string-length(.) <= 20", save_to="head_name",
          constraint_msg=("姓名请不超过20个字。", "Please use at most 20 characters.")),
        q("text", "address", "家庭住址（小区、楼栋、单元、门牌号）",
          "Address (estate, building, unit, flat)", required="yes", pii="yes",
          constraint="string-length(.) <= 80", save_to="address",
          constraint_msg=("地址请不超过80个字。", "Please use at most 80 characters.")),
        q("text", "phone", "联系电话（老人或家属）", "Phone (resident or family)", pii="yes",
          save_to="phone",
          constraint="regex(., '^(1[3-9][0-9]{9}|0[0-9]{2,3}-?[0-9]{7,8})$')",
          hint=("手机或座机，例如 13812345678 或 0531-88123456；可以不填。",
                "Mobile or landline, e.g. 13812345678 or 0531-88123456; optional."),
          constraint_msg=("电话号码不对，请填11位手机号或带区号的座机号。",
                          "Please enter an 11-digit mobile or a landline with area code.")),
        end_group(),
        # A screen of its own: under the name, address and phone its five buttons would push
        # the phone below the edge of the screen.
        q("select_one communities", "community", "老人住在哪个社区？",
          "Which community does the older person live in?", required="yes",
          save_to="community"),
        q("integer", "household_size", "家里平时住几个人（含老人）？",
          "How many people usually live in the home (including the older person)?",
          required="yes", constraint=". >= 1 and . <= 15", save_to="members_n",
          constraint_msg=("请填1到15之间的人数。", "Please enter 1 to 15 people.")),
        *household_members(),
        q("select_one arrangements", "living_arrangement", "老人和谁一起住？",
          "Who does the older person live with?", required="yes",
          relevant="${household_size} > 1"),
        q("select_one yes_no", "alone_daytime", "白天是否经常只有老人自己在家？",
          "Is the older person often home alone during the day?", required="yes",
          relevant="${household_size} > 1"),
        q("integer", "elders_count", "家里60岁及以上的老人有几位？",
          "How many people aged 60 or over live in the home?", required="yes",
          constraint=". >= 1 and . <= ${household_size}",
          constraint_msg=("老人人数应在1人到家庭常住人数之间，请核对。",
                          "Must be at least 1 and no more than the people in the home.")),
        q("integer", "oldest_age", "家里年龄最大的老人几岁？",
          "How old is the oldest person in the home?", required="yes",
          constraint=". >= 60 and . <= 120",
          constraint_msg=("请填60到120之间的年龄。", "Please enter an age from 60 to 120.")),
        q("select_one mobility", "mobility", "老人平时怎么行动？",
          "How does the older person get around?", required="yes",
          hint=("家里有几位老人时，按行动最不方便的一位填写。",
                "With several older people, answer for the least mobile one.")),
        q("select_multiple conditions", "conditions", "老人有下面这些情况吗？（可多选）",
          "Does the older person have any of these? (Tick all that apply)",
          required="yes", constraint=none_alone(), constraint_msg=NONE_ALONE_MSG),
        q("begin_group", "housing", "住房情况", "Housing", appearance="field-list"),
        q("integer", "floor", "住在几楼？（平房或一楼填 1）",
          "Which floor is the home on? (1 for ground floor or bungalow)", required="yes",
          constraint=". >= 1 and . <= 40",
          constraint_msg=("请填1到40之间的楼层。", "Please enter a floor from 1 to 40.")),
        q("select_one yes_no", "elevator", "楼里有电梯吗？", "Is there a lift in the building?",
          required="yes", relevant="${floor} > 1"),
        end_group(),
        *room("bath", "卫生间", "Bathroom"),
        *room("bedroom", "卧室", "Bedroom"),
        *room("stairs", "楼梯和进出门", "Stairs and entrance"),
        *room("kitchen", "厨房", "Kitchen"),
        q("select_multiple subsidy", "subsidy_status", "老人属于下面哪类补贴对象？（可多选）",
          "Is the older person in any of these subsidy groups? (Tick all that apply)",
          required="yes", constraint=none_alone(), constraint_msg=NONE_ALONE_MSG,
          hint=("符合条件的家庭可以申请政府适老化改造补贴。",
                "Eligible families may apply for a government adaptation subsidy.")),
        *plan_calculations(),
        q("calculate", "state", calculation="'assessed'", save_to="state"),
        q("note", "plan_note",
          "建议改造项目：${plan}。请向老人和家属说明。",
          "Recommended adaptations: ${plan_en}. Please explain them to the resident and family."),
        q("select_one agree", "agree_plan", "老人和家属同意按这个方案改造吗？",
          "Do the resident and family agree to this plan?", required="yes",
          relevant="${rec_count} > 0", save_to="plan_agreed"),
        q("select_one cost", "self_pay", "除补贴外，家里能接受自己出多少钱？",
          "Beyond any subsidy, how much can the family pay itself?", required="yes",
          relevant="${rec_count} > 0 and ${agree_plan} != 'no'"),
        q("date", "next_visit", "约好下次什么时候上门？（可以不填）",
          "When is the next visit arranged? (optional)", save_to="next_visit",
          constraint=". > ${visit_date}",
          hint=("例如施工队上门量尺寸、或验收回访的日子。",
                "E.g. when the builders come to measure, or the return visit after the works."),
          constraint_msg=("下次上门的日期要在这次走访之后。",
                          "The next visit must be after this one.")),
        q("text", "volunteer_remarks", "志愿者补充说明", "Volunteer's remarks",
          constraint="string-length(.) <= 300",
          hint=("例如：老人的特别需要、家里的其他危险。可以不填。",
                "E.g. special needs or other hazards at home. Optional."),
          constraint_msg=("请用300个字以内填写。", "Please use at most 300 characters.")),
        q("acknowledge", "explained", "我已当面向老人或家属说明了评估结果。",
          "I have explained the assessment to the resident or family in person.",
          required="yes"),
    ]
    choice_rows = [
        *choices("yes_no", YES_NO),
        *choices("communities", COMMUNITIES),
        *choices("relations", RELATIONS),
        *choices("arrangements", [
            ("spouse", "和老伴两人住", "With spouse only"),
            ("children", "和子女住", "With children"),
            ("caregiver", "和保姆或护工住", "With a carer or helper"),
            ("other", "其他", "Other"),
        ]),
        *choices("mobility", MOBILITY),
        *choices("conditions", CONDITIONS),
        *choices("bath_problems", BATH_PROBLEMS),
        *choices("bedroom_problems", BEDROOM_PROBLEMS),
        *choices("stairs_problems", STAIRS_PROBLEMS),
        *choices("kitchen_problems", KITCHEN_PROBLEMS),
        *choices("subsidy", [
            ("tekun", "特困供养人员", "Person in extreme poverty (tekun)"),
            ("dibao", "低保或低保边缘家庭", "Subsistence-allowance household"),
            ("disabled", "失能、半失能或重度残疾", "Disabled or needing care"),
            ("special_family", "计划生育特殊家庭", "Family-planning special-hardship family"),
            ("none", "都不是", "None of these"),
        ]),
        *choices("agree", [
            ("yes", "同意", "Agree"),
            ("discuss", "还要和家人商量", "Need to discuss with family"),
            ("no", "不同意", "Do not agree"),
        ]),
        *choices("cost", [
            ("free_only", "只做免费或补贴项目", "Only free or subsidised items"),
            ("under_500", "500元以内", "Up to 500 yuan"),
            ("500_2000", "500–2000元", "500–2,000 yuan"),
            ("over_2000", "2000元以上", "Over 2,000 yuan"),
        ]),
    ]
    settings = {"form_title": "适老化改造需求评估",
                f"kiosk_title::{EN}": "Age-Friendly Home Adaptation Assessment",
                "form_id": "home_adaptation", "review": "yes", "draft_on_idle": "keep",
                # Finishing the visit registers the household (its head and address name it).
                "entities": {"list_name": "households",
                             "label": "concat(${resident_name}, ' ', ${address})"}}
    return survey, choice_rows, settings


# ---- 适老化改造验收回访 ---------------------------------------------------------------

HOUSEHOLD_SEARCH_HINT = ("输入老人姓名、住址里的字（如 康乐 5幢），或电话的后四位。",
                         "Type the older person's name, words of the address, or the last "
                         "four digits of the phone.")


def household_pick(zh: str, en: str) -> list[Row]:
    """Pick a household of the register and read what it says of itself."""
    def read(name: str, prop: str) -> Row:
        return q("calculate", name,
                 calculation=f"instance('households')/root/item[name=${{household}}]/{prop}")

    return [
        q("select_one_from_file households.csv", "household", zh, en, required="yes",
          hint=HOUSEHOLD_SEARCH_HINT,
          required_msg=("请先搜索并选出要走访的这一户。",
                        "Please search for the household and pick it first.")),
        read("head_name", "head_name"),
        read("last_visit_before", "last_visit"),
    ]


def visit_date() -> Row:
    return q("date", "visit_date", "这次走访的日期", "Date of this visit", required="yes",
             default="today()", constraint=". <= today()", save_to="last_visit",
             constraint_msg=("走访日期不能晚于今天。", "The visit date cannot be after today."))


def next_visit(zh: str, en: str, hint: tuple[str, str], **extra: Any) -> Row:
    rule = ". > ${visit_date} and decimal-date-time(.) - decimal-date-time(${visit_date}) <= 183"
    extra.setdefault("constraint", rule)
    extra.setdefault("constraint_msg", ("下次的日期要在这次之后，半年以内。",
                                        "The next visit must be after this one and within "
                                        "six months."))
    return q("date", "next_visit", zh, en, required="yes", save_to="next_visit", hint=hint,
             **extra)


def home_adaptation_followup() -> tuple[list[Row], list[Row], Row]:
    installed_count = ("if(selected(${installed}, 'none_yet'), 0, "
                       "count-selected(${installed}))")
    survey = [
        *metadata(),
        q("note", "intro",
          "适老化改造验收回访：改造完工后，请志愿者上门查看装了什么、好不好用，听听老人的意见。",
          "Return visit after the home adaptation: once the works are done, volunteers check "
          "what was installed and whether it works, and ask the older person's views."),
        *household_pick("选择要回访的这一户", "Pick the household to visit"),
        q("calculate", "plan", calculation=(
            "instance('households')/root/item[name=${household}]/plan")),
        q("calculate", "plan_en", calculation=(
            "instance('households')/root/item[name=${household}]/plan_en")),
        q("calculate", "planned", calculation=(
            "instance('households')/root/item[name=${household}]/plan_items")),
        q("calculate", "planned_count", calculation="count-selected(${planned})"),
        q("note", "plan_note",
          "${head_name}家评估时定的改造方案：${plan}。",
          "The plan agreed for ${head_name}'s home at the assessment: ${plan_en}."),
        visit_date(),
        q("select_multiple adaptation_items", "installed",
          "方案里的这些项目，哪些已经装好了？（可多选）",
          "Which items of the plan have been installed? (Tick all that apply)",
          required="yes", relevant="${planned_count} > 0",
          choice_filter="selected(${planned}, name) or name = 'none_yet'",
          constraint=none_alone("none_yet"), constraint_msg=(
              "选了【都还没有装】，就不能再选其他项目。",
              "\"Nothing installed yet\" cannot be ticked together with items."),
          save_to="installed_items"),
        q("calculate", "installed_count", calculation=installed_count),
        q("begin_group", "works", "施工情况", "The works", appearance="field-list",
          relevant="${installed_count} > 0"),
        q("select_one likert", "work_satisfaction", "老人对这次改造施工满意吗？",
          "How satisfied is the older person with the works?", required="yes",
          appearance="likert", save_to="satisfaction"),
        q("select_one yes_no", "taught", "志愿者是否已教会老人使用新装的设施（如紧急呼叫器）？",
          "Has the older person been shown how to use what was installed (e.g. the emergency "
          "call button)?", required="yes"),
        end_group(),
        q("select_multiple problems", "problems", "发现了哪些问题？（可多选）",
          "What problems did you find? (Tick all that apply)", required="yes",
          relevant="${installed_count} > 0",
          constraint=none_alone(), constraint_msg=NONE_ALONE_MSG),
        q("text", "problem_details", "请说一说问题在哪里、需要怎么修。",
          "Please say where the problem is and what needs fixing.", required="yes",
          relevant="${installed_count} > 0 and not(selected(${problems}, 'none'))",
          constraint="string-length(.) <= 300",
          constraint_msg=("请用300个字以内填写。", "Please use at most 300 characters.")),
        q("select_one outcomes", "outcome", "这一户的改造验收结果",
          "Outcome of the check", required="yes",
          constraint=(". != 'accepted' or (${installed_count} = ${planned_count} and "
                      "(${problems} = '' or selected(${problems}, 'none')))"),
          constraint_msg=("方案里还有没装好的项目或发现了问题，不能验收合格，请选需要返修或补装。",
                          "Items are missing or problems were found: choose that it needs "
                          "fixing or finishing.")),
        q("calculate", "state", save_to="state",
          calculation="if(${outcome} = 'accepted', 'installed', 'needs_fix')"),
        q("text", "next_steps", "下一步怎么办？（例如：联系施工队返修扶手，下周二再来看）",
          "Next steps (e.g. ask the builders to refix the grab bar, come back next Tuesday)",
          required="${outcome} != 'accepted'", constraint="string-length(.) <= 300",
          save_to="next_steps",
          required_msg=("没有验收合格，请写下一步怎么办。",
                        "Not accepted yet: please write the next steps."),
          constraint_msg=("请用300个字以内填写。", "Please use at most 300 characters.")),
        next_visit("下次回访日期", "Date of the next visit",
                   ("需要返修的，约好修好后再来；验收合格的，一般三个月后再回访一次。",
                    "If it needs fixing, come back once it is fixed; after a good check, "
                    "usually once more in three months.")),
        q("acknowledge", "explained", "我已当面向老人或家属说明了回访结果和下一步安排。",
          "I have explained the outcome and the next steps to the resident or family in "
          "person.", required="yes"),
    ]
    rooms = {name: (zh, en) for name, zh, en in PLAN_ROOMS}
    items = [(item_name(name), f"{rooms[room][0]}：{zh}", f"{rooms[room][1]}: {en}")
             for name, room, zh, en, _reasons in ADAPTATIONS]
    choice_rows = [
        *choices("adaptation_items", [*items, ("none_yet", "都还没有装", "Nothing installed yet")]),
        *choices("likert", LIKERT),
        *choices("yes_no", YES_NO),
        *choices("problems", [
            ("loose", "扶手、把手等装得不牢", "Rails or handles are loose"),
            ("not_working", "报警器、呼叫器或灯不好用", "An alarm, call button or light "
             "does not work"),
            ("still_slippery", "防滑处理后还是滑", "Still slippery after the anti-slip work"),
            ("wrong_place", "装的位置不合适，老人够不着或用不上", "Installed in the wrong place "
             "for the older person"),
            ("mess", "施工后没有清理干净", "Not cleaned up after the works"),
            ("none", "没有发现问题", "No problems found"),
        ]),
        *choices("outcomes", [
            ("accepted", "验收合格", "Accepted: everything is installed and works"),
            ("fix", "需要返修", "Needs fixing"),
            ("unfinished", "还有项目没装，需要补装", "Items still to be installed"),
        ]),
    ]
    settings = {"form_title": "适老化改造验收回访",
                f"kiosk_title::{EN}": "Home Adaptation Return Visit",
                "form_id": "home_adaptation_followup", "review": "yes", "draft_on_idle": "keep",
                "entities": {"list_name": "households", "entity_id": "${household}"}}
    return survey, choice_rows, settings


# ---- 独居老人探访 ---------------------------------------------------------------------

# Risks that call for a visit within the week (风险高): what falls, cold and gas do to an
# older person alone at home.
HIGH_RISKS = ("gas", "fall", "cold")


def lonely_elderly_visit() -> tuple[list[Row], list[Row], Row]:
    met = "${met} = 'yes'"
    high = " or ".join([
        "${not_met_reason} = 'no_answer'", "${mood} = 'very_low'",
        "${health} = 'ill' or ${health} = 'hospital'",
        *(f"selected(${{risks}}, '{risk}')" for risk in HIGH_RISKS)])
    medium = " or ".join([
        "${met} = 'no'", "${mood} = 'low'", "${health} = 'worse'", "${meals} = 'irregular'",
        "(${risks} != '' and not(selected(${risks}, 'none')))"])
    survey = [
        *metadata(),
        q("note", "intro",
          "独居老人探访：定期上门或打电话看看老人过得好不好，发现风险及时处理、转介。",
          "Visit to an older person living alone: a regular call or visit to see how they "
          "are, and to act on or refer any risk found."),
        *household_pick("选择要探访的老人", "Pick the older person to visit"),
        q("calculate", "last_risk", calculation=(
            "instance('households')/root/item[name=${household}]/risk_level")),
        q("note", "last_note",
          "${head_name}上次走访是 ${last_visit_before}。",
          "${head_name} was last visited on ${last_visit_before}.",
          relevant="${last_visit_before} != ''"),
        q("note", "last_high_note",
          "上次探访时风险较高，请特别留意上次发现的问题是否已经解决。",
          "The last visit found a high risk: check especially whether it has been dealt "
          "with.", relevant="${last_risk} = 'high'"),
        visit_date(),
        q("select_one visit_ways", "visit_way", "这次是怎么探访的？", "How was this visit made?",
          required="yes"),
        q("select_one yes_no", "met", "见到或联系上老人本人了吗？",
          "Did you see or reach the older person?", required="yes"),
        q("select_one not_met_reasons", "not_met_reason", "没有见到的原因", "Why not?",
          required="yes", relevant="${met} = 'no'"),
        q("note", "no_answer_note",
          "敲门、打电话都没人应：请马上联系家属或社区，必要时拨打110或120，不要等下次探访。",
          "No answer at the door or on the phone: call the family or the community now, and "
          "110 or 120 if needed. Do not wait for the next visit.",
          relevant="${not_met_reason} = 'no_answer'"),
        q("begin_group", "wellbeing", "身体和心情", "Health and mood", appearance="field-list",
          relevant=met),
        q("select_one moods", "mood", "老人精神和心情怎么样？",
          "How is the older person's mood?", required="yes"),
        q("select_one health", "health", "身体情况和上次比怎么样？",
          "How is their health compared with the last visit?", required="yes"),
        q("select_one meals", "meals", "平时吃饭怎么解决？", "How do they get their meals?",
          required="yes"),
        end_group(),
        q("select_multiple risks", "risks", "家里有没有下面这些安全隐患？（可多选）",
          "Are there any of these risks at home? (Tick all that apply)", required="yes",
          relevant=met, constraint=none_alone(), constraint_msg=NONE_ALONE_MSG,
          hint=("天冷时看看取暖，天热时看看降温；看一眼燃气灶和电线。",
                "In cold weather check the heating, in hot weather the cooling; look at the "
                "gas cooker and the wiring.")),
        q("select_multiple needs or_other", "needs", "老人现在需要哪些帮助？（可多选）",
          "What help does the older person need now? (Tick all that apply)", required="yes",
          relevant=met, constraint=none_alone(), constraint_msg=NONE_ALONE_MSG),
        q("select_multiple referrals", "referrals", "这次转介或联系了谁？（可多选）",
          "Whom did you refer to or contact? (Tick all that apply)", required="yes",
          constraint=none_alone(), constraint_msg=NONE_ALONE_MSG),
        q("calculate", "risk_level", save_to="risk_level",
          calculation=f"if({high}, 'high', if({medium}, 'medium', 'low'))"),
        q("calculate", "risk_zh",
          calculation="if(${risk_level} = 'high', '高', if(${risk_level} = 'medium', '中', '低'))"),
        q("calculate", "risk_en", calculation="${risk_level}"),
        q("calculate", "interval_zh", calculation=(
            "if(${risk_level} = 'high', '请在一周内再探访一次。', "
            "if(${risk_level} = 'medium', '建议两周内再探访一次。', '每月探访一次即可。'))")),
        q("calculate", "interval_en", calculation=(
            "if(${risk_level} = 'high', 'Visit again within a week.', "
            "if(${risk_level} = 'medium', 'Visit again within two weeks.', "
            "'A monthly visit is enough.'))")),
        q("note", "risk_note",
          "这次评估的风险：${risk_zh}。${interval_zh}",
          "Risk found on this visit: ${risk_en}. ${interval_en}"),
        next_visit("下次探访日期", "Date of the next visit",
                   ("风险高的一周内再来；天冷天热时多来几次。",
                    "With a high risk, come back within a week; more often in cold snaps and "
                    "heat waves."),
                   constraint=(". > ${visit_date} and decimal-date-time(.) - "
                               "decimal-date-time(${visit_date}) <= if(${risk_level} = 'high', "
                               "7, 62)"),
                   constraint_msg=("风险高的老人一周内要再探访一次；其他的两个月以内。",
                                   "With a high risk, the next visit is within a week; "
                                   "otherwise within two months.")),
        q("text", "remarks", "探访记录（老人说了什么、做了什么）",
          "Notes of the visit (what the older person said, what was done)",
          constraint="string-length(.) <= 500",
          hint=("可以不填。", "Optional."),
          constraint_msg=("请用500个字以内填写。", "Please use at most 500 characters.")),
    ]
    choice_rows = [
        *choices("yes_no", YES_NO),
        *choices("visit_ways", [
            ("home", "上门探访", "Home visit"),
            ("phone", "电话问候", "Phone call"),
            ("outside", "在社区或活动中见到", "Met in the community or at an activity"),
        ]),
        *choices("not_met_reasons", [
            ("out", "外出了，邻居说人没事", "Out; the neighbours say all is well"),
            ("with_family", "去子女家住了", "Staying with their children"),
            ("hospital", "住院了", "In hospital"),
            ("no_answer", "敲门、打电话都没人应", "No answer at the door or on the phone"),
        ]),
        *choices("moods", [
            ("good", "精神好，心情不错", "In good spirits"),
            ("ok", "一般", "So-so"),
            ("low", "情绪低落，说孤单", "Low, says they feel lonely"),
            ("very_low", "不想说话，有轻生的话", "Withdrawn, talks of not wanting to live"),
        ]),
        *choices("health", [
            ("as_usual", "和平时一样", "As usual"),
            ("worse", "比上次差", "Worse than last time"),
            ("ill", "生病卧床", "Ill in bed"),
            ("hospital", "最近住过院", "Recently in hospital"),
        ]),
        *choices("meals", [
            ("self", "自己做饭，按时吃", "Cooks and eats regularly"),
            ("family", "家人送饭或一起吃", "Family bring meals or eat with them"),
            ("canteen", "长者食堂或助餐送餐", "Community canteen or meal delivery"),
            ("irregular", "经常不按时吃，吃不上热饭", "Often skips meals or eats cold food"),
        ]),
        *choices("risks", [
            ("gas", "燃气灶具老化、常忘关火，或没有报警器", "Old gas cooker, forgets to turn it "
             "off, or no alarm"),
            ("fall", "最近摔倒过，或地面湿滑、杂物多", "Fell recently, or slippery or cluttered "
             "floors"),
            ("cold", "天冷没有取暖（或天热没有降温）", "No heating in the cold (or cooling in "
             "the heat)"),
            ("wiring", "电线老化、私拉电线", "Old or makeshift wiring"),
            ("medicine", "药吃不对或药过期", "Medicines taken wrongly or out of date"),
            ("scam", "遇到上门推销、保健品骗局", "Door-to-door sellers or health-product scams"),
            ("no_contact", "家人很少联系，没有紧急联系人", "Family rarely in touch, no emergency "
             "contact"),
            ("none", "没有发现", "None found"),
        ]),
        *choices("needs", [
            ("meals", "助餐、送餐", "Meals or meal delivery"),
            ("cleaning", "家政保洁", "Cleaning"),
            ("medical", "陪同就医、代买药", "Escort to the doctor, medicines fetched"),
            ("repairs", "家里东西要修", "Repairs at home"),
            ("company", "陪伴聊天", "Company and a chat"),
            ("paperwork", "代办补贴、证件", "Help with subsidies and papers"),
            ("call_button", "安装紧急呼叫器", "An emergency call button"),
            ("none", "暂时不需要", "Nothing for now"),
        ]),
        *choices("referrals", [
            ("family", "联系了家属", "The family"),
            ("doctor", "家庭医生或社区卫生服务站", "The family doctor or community clinic"),
            ("civil_affairs", "民政救助（低保、特困、临时救助）", "Civil-affairs assistance "
             "(subsistence allowance, emergency aid)"),
            ("home_care", "居家养老服务", "Home-care services"),
            ("property", "物业或维修", "Property management or repairs"),
            ("emergency", "已拨打110或120", "Called 110 or 120"),
            ("none", "不需要转介", "No referral needed"),
        ]),
    ]
    settings = {"form_title": "独居老人探访",
                f"kiosk_title::{EN}": "Visit to an Older Person Living Alone",
                "form_id": "lonely_elderly_visit", "review": "yes", "draft_on_idle": "keep",
                "entities": {"list_name": "households", "entity_id": "${household}"}}
    return survey, choice_rows, settings


# ---- 需求登记 -------------------------------------------------------------------------


def service_request() -> tuple[list[Row], list[Row], Row]:
    wants_contact = "${followup} != 'none' and ${followup} != ''"
    survey = [
        *metadata(),
        q("note", "intro", "您好！请告诉我们您需要什么帮助，社工会跟进处理。",
          "Hello! Tell us what help you need and a social worker will follow up."),
        q("select_one categories", "category", "您需要哪方面的帮助？",
          "What kind of help do you need?", required="yes"),
        q("text", "category_specify", "请说明是哪方面的事。", "Please say what it is about.",
          required="yes", relevant="${category} = 'other'",
          constraint="string-length(.) <= 30",
          constraint_msg=("请用30个字以内填写。", "Please use at most 30 characters.")),
        q("select_one for_whom", "for_whom", "这是为谁登记的？", "Who is this request for?",
          required="yes"),
        q("select_one communities", "community", "需要帮助的人住在哪个社区？",
          "Which community does the person who needs help live in?", required="yes"),
        q("text", "description", "请说一说具体是什么事、需要什么帮助。",
          "Please describe the situation and the help needed.", required="yes",
          constraint="string-length(.) <= 500",
          hint=("写清楚就好，不用写太长。", "A few clear sentences are enough."),
          required_msg=("请简单写一下需要什么帮助。", "Please write briefly what help you need."),
          constraint_msg=("请用500个字以内说明。", "Please use at most 500 characters.")),
        q("select_one urgency", "urgency", "这件事有多急？", "How urgent is it?", required="yes"),
        q("note", "urgent_note",
          "如果有危险或急病，请马上拨打110或120，也可以直接告诉大厅工作人员。",
          "If anyone is in danger or seriously ill, call 110 or 120 now, or tell the staff "
          "in the hall.", relevant="${urgency} = 'urgent'"),
        q("select_one followups", "followup", "您希望社工怎样联系您？",
          "How would you like the social worker to follow up?", required="yes"),
        q("text", "contact_name", "怎么称呼您？", "What should we call you?", pii="yes",
          relevant=wants_contact, constraint="string-length(.) <= 20",
          hint=("可以只写姓，例如：王阿姨。", "A family name is enough, e.g. Auntie Wang."),
          constraint_msg=("请用20个字以内填写。", "Please use at most 20 characters.")),
        q("text", "contact_phone", "您的手机号码", "Your mobile number", pii="yes",
          relevant=wants_contact, required="${followup} = 'phone'",
          constraint="regex(., '^1[3-9][0-9]{9}$')",
          hint=("只用于这次回访。", "Used only to follow up on this request."),
          required_msg=("电话回访需要留下手机号码。", "A phone follow-up needs a mobile number."),
          constraint_msg=("手机号码应是1开头的11位数字，请再看一下。",
                          "A mobile number has 11 digits starting with 1.")),
        q("text", "contact_address", "上门地址（小区、楼栋、门牌号）",
          "Address for the home visit (estate, building, flat)", pii="yes", required="yes",
          relevant="${followup} = 'visit'", constraint="string-length(.) <= 80",
          constraint_msg=("地址请不超过80个字。", "Please use at most 80 characters.")),
        q("select_one office_times", "office_time", "您什么时间方便来站点？",
          "When can you come to the station?", required="yes",
          relevant="${followup} = 'office'"),
        # No number of days here: the form cannot know the station's follow_up_days; the
        # thank-you screen and the printed slip state the days and the date.
        q("note", "thanks",
          "登记好了！请点【完成】，核对一遍您填的内容，没问题再点【提交】。"
          "提交后，屏幕上会告诉您社工哪天前跟进。",
          "All done! Tap \"Finish\", check your answers, then tap \"Submit\". The next "
          "screen tells you by when a social worker will follow up."),
    ]
    choice_rows = [
        *choices("categories", [
            ("elderly", "养老", "Elderly care"),
            ("children", "儿童", "Children"),
            ("disability", "助残", "Disability support"),
            ("hardship", "困难救助", "Hardship assistance"),
            ("psychological", "心理", "Emotional support"),
            ("legal", "法律", "Legal help"),
            ("other", "其他", "Other"),
        ]),
        *choices("for_whom", [
            ("self", "自己", "Myself"),
            ("family", "家里人", "A family member"),
            ("neighbour", "邻居或朋友", "A neighbour or friend"),
        ]),
        *choices("communities", COMMUNITIES),
        *choices("urgency", [
            ("urgent", "很急，这几天就需要", "Urgent: needed in the next few days"),
            ("soon", "比较急，一两周内", "Fairly urgent: within a week or two"),
            ("not_urgent", "不急", "Not urgent"),
        ]),
        *choices("followups", [
            ("phone", "电话回访", "Phone call"),
            ("visit", "上门", "Home visit"),
            ("office", "到站点面谈", "Meet at the station"),
            ("none", "不需要回访", "No follow-up needed"),
        ]),
        *choices("office_times", [
            ("weekday_morning", "工作日上午", "Weekday morning"),
            ("weekday_afternoon", "工作日下午", "Weekday afternoon"),
            ("any", "都可以", "Any time"),
        ]),
    ]
    settings = {"form_title": "需求登记", f"kiosk_title::{EN}": "Service Request",
                "form_id": "service_request", "review": "yes", "draft_on_idle": "discard"}
    return survey, choice_rows, settings


# ---- writing --------------------------------------------------------------------------


def _write_sheet(workbook: Workbook, title: str, columns: list[str], rows: list[Row]) -> None:
    sheet = workbook.create_sheet(title)
    sheet.append(columns)
    for row in rows:
        unknown = set(row) - set(columns)
        if unknown:
            raise ValueError(f"{title}: unknown columns {sorted(unknown)}")
        sheet.append([row.get(column) or None for column in columns])
    for cell in sheet[1]:
        cell.font = HEADER_FONT
        cell.fill = HEADER_FILL
    for index, column in enumerate(columns, start=1):
        width = COLUMN_WIDTHS.get(column, 16)
        sheet.column_dimensions[get_column_letter(index)].width = width
    for row_cells in sheet.iter_rows(min_row=2):
        for cell in row_cells:
            cell.alignment = Alignment(vertical="top", wrap_text=True)
    sheet.freeze_panes = "C2" if title == "survey" else "A2"


def survey_columns(survey: list[Row]) -> list[str]:
    """SURVEY_COLUMNS and the optional ones the form's rows use."""
    columns = list(SURVEY_COLUMNS)
    for column, after in OPTIONAL_COLUMNS.items():
        if any(row.get(column) for row in survey):
            columns.insert(columns.index(after) + 1, column)
    return columns


def write_form(survey: list[Row], choice_rows: list[Row], settings: Row, path: Path) -> None:
    """Write one XLSForm workbook. ``settings`` may hold ``entities``: the entities sheet's
    row (list_name, label or entity_id ...)."""
    settings = dict(settings)
    entities = settings.pop("entities", None)
    workbook = Workbook()
    workbook.remove(workbook.active)
    _write_sheet(workbook, "survey", survey_columns(survey), survey)
    choice_columns = ["list_name", "name", f"label::{ZH}", f"label::{EN}"]
    for row in choice_rows:
        choice_columns.extend(column for column in row if column not in choice_columns)
    _write_sheet(workbook, "choices", choice_columns, choice_rows)
    if entities:
        _write_sheet(workbook, "entities",
                     [column for column in ENTITY_COLUMNS if column in entities], [entities])
    settings = {**settings, "version": VERSIONS.get(settings["form_id"], VERSION),
                "default_language": ZH}
    settings_columns = ["form_title", f"kiosk_title::{EN}", "form_id", "version",
                        "default_language", "review", "draft_on_idle"]
    _write_sheet(workbook, "settings", settings_columns, [settings])
    workbook.properties.created = FIXED_TIME
    workbook.properties.creator = "shegong-kiosk"
    buffer = BytesIO()
    workbook.save(buffer)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_reproducible(buffer.getvalue()))


def _reproducible(data: bytes) -> bytes:
    """The same workbook with fixed zip entry times and a fixed 'modified' property."""
    stamp = FIXED_TIME.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    output = BytesIO()
    with zipfile.ZipFile(BytesIO(data)) as source, \
            zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            content = source.read(info.filename)
            if info.filename == "docProps/core.xml":
                content = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*", rb"\g<1>" + stamp, content)
            entry = zipfile.ZipInfo(info.filename, date_time=FIXED_TIME.timetuple()[:6])
            entry.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(entry, content)
    return output.getvalue()


FORMS = {
    "satisfaction": satisfaction,
    "marriage_reform": marriage_reform,
    "home_adaptation": home_adaptation,
    "service_request": service_request,
    "home_adaptation_followup": home_adaptation_followup,
    "lonely_elderly_visit": lonely_elderly_visit,
}


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    target = Path(args[0]) if args else FORMS_DIR
    for form_id, build in FORMS.items():
        survey, choice_rows, settings = build()
        assert settings["form_id"] == form_id
        path = target / f"{form_id}.xlsx"
        write_form(survey, choice_rows, settings, path)
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
