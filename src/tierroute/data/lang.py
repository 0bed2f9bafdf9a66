"""Guess whether a query is Vietnamese or English, with or without diacritics (pure)."""

from __future__ import annotations

import re

from tierroute.classifier.features import fold

_VI_LETTERS = re.compile(
    r"[ăâđêôơưàảãáạằẳẵắặầẩẫấậèẻẽéẹềểễếệìỉĩíịòỏõóọồổỗốộờởỡớợùủũúụừửữứựỳỷỹýỵ]", re.IGNORECASE
)
_WORD = re.compile(r"[a-z]+")


def _word_set(words: str) -> frozenset[str]:
    return frozenset(words.split())


# Vietnamese words that survive the loss of diacritics (and teen-code spellings) and are not
# English words.
_VI_WORDS = _word_set(
    """
    a ad ah ak an anh bai ban bang bao bi bien biet bik bit bj bn bnhiu boi bpt buoc ca cac
    cach cai cam can cau cham chao chay chi chiec cho chu chua chung chuoi chuyen co con cua
    cung da dang danh dao dat dau dc dem den di dk doan doi don dong du dum dung duoc dzay e
    em gi gia giai giao gio gium giup goi ham hang hay hem hieu hoac hoi hok hon hong hum it
    j k ket khac khau khi khoan khong kiem ko ky lai lam len lenh loi ma man mang mat may
    mik minh mk mn moi mot mua muc muon nam nao nay ne nen neu ngay nguoc nguoi nguyen nha
    nhat nhau nhe nhi nhieu nhiu nho nhu nhung ntn oi oke on phai phan qua ra roi sach sai
    sang sao sap sau se ship shop so sua tac tai tang tao tat thang thanh the thi thich thoa
    tien tim tinh tks toi tong tra tri trong truoc tu tui tung tuong uh uk uu v va vao vat
    vay vd ve vi viec viet voi vong vs xe xep xin xuong y z zay ơi
    """
)
# Words in both lists (a, the, ban, ma, do, an ...) are counted for neither: only words that
# belong to one language decide.
_EN_WORDS = _word_set(
    """
    a about account after again all also am an and any are as at be been before best but by
    can card cat could day did do does done down explain find for from get give good had has
    have he help here how i if in into is it just know like long make mat may me might money
    more most must my need new no not of old on only or order our out over paid pay people
    please poem sat sea send sent shall she short should show so some story tell than that
    the their then there these they thing this those time to under up very want was way we
    were what when where which who whom whose why will with would write year yes you your
    """
)
_AMBIGUOUS = _VI_WORDS & _EN_WORDS


def guess_lang(text: str) -> str:
    """``vi`` for Vietnamese (with or without diacritics, teen-code included), else ``en``.

    Any Vietnamese letter decides at once. Otherwise words are counted on both sides: words
    only Vietnamese uses against words only English uses; two Vietnamese words that outnumber
    the English ones make it ``vi`` ("shop oi don hang cua em dau roi"), so short English
    ("the cat sat on the mat") stays English.
    """
    if _VI_LETTERS.search(text):
        return "vi"
    words = _WORD.findall(fold(text))
    vi = sum(w in _VI_WORDS and w not in _AMBIGUOUS for w in words)
    en = sum(w in _EN_WORDS and w not in _AMBIGUOUS for w in words)
    return "vi" if vi >= 2 and vi > en else "en"
