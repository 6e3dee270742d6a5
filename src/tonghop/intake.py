"""Checks on received bytes before any parser sees them: Excel containers that are unsafe or
not forms at all, and text in the legacy Vietnamese encodings old offices still send."""

from __future__ import annotations

import io
import re
import unicodedata
import zipfile
import zlib
from dataclasses import dataclass, field

from tonghop.numbers import thousands
from tonghop.parse import UnreadableFile
from tonghop.settings import IntakeSettings, column_number

# An .xlsx form of tonghop is ~15 KB zipped and ~200 KB unzipped: past the limits of
# `IntakeSettings` (50 MB unzipped, or a part that inflates more than 200 times) a file is a
# zip bomb, not a report.
LIMITS = IntakeSettings()
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_FORMULA_CELL = re.compile(
    rb'<c r="([A-Z]{1,3}[0-9]{1,7})"[^>]*>(?:(?!</c>).){0,2000}?<f[ >/]', re.S
)
# A cell holding an Excel error (#REF!, #DIV/0!, #N/A, #VALUE!...), which calamine reads as blank.
_ERROR_CELL = re.compile(
    rb'<c r="([A-Z]{1,3}[0-9]{1,7})"[^>]*?\st="e"[^>]*>(?:(?!</c>).){0,2000}?<v>([^<]{1,40})</v>',
    re.S,
)
# Where a sheet says its cells reach (`<dimension ref="A1:F70"/>`) and where cells stand.
_DIMENSION = re.compile(rb'<dimension ref="(?:[A-Z]{1,3}[0-9]{1,7}:)?([A-Z]{1,3})([0-9]{1,7})"')
_CELL_REF = re.compile(rb'<c r="([A-Z]{1,3})([0-9]{1,7})"')
_ROW_REF = re.compile(rb'<row r="([0-9]{1,7})"')
# The reader lays a sheet out from A1 to its farthest cell: one cell at XFD1048576 in a 10 KB
# file is 17 billion cells. A form is six columns and a few hundred rows; the limits
# (`max_form_rows`, `max_form_column`: 5,000 and AZ) leave room for a unit's own notes beside
# it and nothing near a bomb.


@dataclass(frozen=True)
class XlsxCells:
    """Cells of a form's sheets that calamine does not tell apart (e.g. "E14")."""

    formulas: set[str] = field(default_factory=set)
    errors: dict[str, str] = field(default_factory=dict)  # cell -> "#REF!"


# TCVN3 (ABC) bytes → Unicode, the lower-case letters and the seven upper-case ones the
# encoding has (upper case otherwise lived in separate ".VnTimeH" fonts).
_TCVN3 = dict(
    zip(
        "µ¸¶·¹¨»¾¼½Æ©ÇÊÈÉË®ÌÐÎÏÑªÒÕÓÔÖ×ÝØÜÞßãáâä«åèæçé¬êíëìîïóñòô\xadõøö÷ùúýûüþ¡¢§£¤¥¦",
        "àáảãạăằắẳẵặâầấẩẫậđèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵĂÂĐÊÔƠƯ",
        strict=True,
    )
)
# Windows-1258 writes tones as combining marks after the vowel.
_CP1258_TONES = {0xCC, 0xEC, 0xD2, 0xDE, 0xF2}
_CP1258_VOWELS = set(b"aeiouyAEIOUY\xe2\xea\xf4\xe3\xf5\xfd\xc2\xca\xd4\xc3\xd5\xdd")
# VNI writes a vowel then a mark byte from this set.
_VNI_MARKS = set("øùûõïâêôöùøñ")


def check_xlsx(name: str, data: bytes, limits: IntakeSettings = LIMITS) -> XlsxCells:
    """Refuse what no form can be (sizes from the zip's central directory, before inflating
    anything); return the cells that hold formulas or Excel errors."""
    if data.startswith(_OLE_MAGIC):
        raise UnreadableFile(
            f"Tệp '{name}' được đặt mật khẩu hoặc là Excel đời cũ (.xls): tonghop không mở "
            "tệp có mật khẩu; đề nghị đơn vị gỡ mật khẩu và lưu lại dạng .xlsx."
        )
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except (zipfile.BadZipFile, ValueError) as exc:
        raise UnreadableFile(
            f"Tệp '{name}' không phải tệp Excel (.xlsx) hợp lệ (tệp nén bị hỏng): {exc}"
        ) from exc
    if any(m.filename == "mimetype" for m in members) and _is_opendocument(archive):
        raise UnreadableFile(
            f"Tệp '{name}' là bảng tính LibreOffice/OpenOffice (.ods) mang đuôi .xlsx; đề nghị "
            "lưu lại đúng dạng .xlsx (Lưu thành > Excel 2007-365)."
        )
    total = sum(m.file_size for m in members)
    for member in members:
        ratio = member.file_size / max(member.compress_size, 1)
        big = member.file_size > 1_000_000 and ratio > limits.max_zip_ratio
        if total > limits.max_unzipped_bytes or big:
            raise UnreadableFile(
                f"Tệp '{name}': phần '{member.filename}' giải nén ra "
                f"{thousands(member.file_size)} byte (tỷ lệ nén {ratio:.0f}:1; cả tệp "
                f"{thousands(total)} byte); tệp bị từ chối vì có dấu hiệu 'bom nén' (giới hạn: "
                f"giải nén tối đa {thousands(limits.max_unzipped_bytes)} byte, thiết lập "
                f"intake.max_unzipped_bytes; tỷ lệ nén tối đa {limits.max_zip_ratio}:1, thiết "
                "lập intake.max_zip_ratio)."
            )
        if member.filename.lower().endswith("vbaproject.bin"):
            raise UnreadableFile(
                f"Tệp '{name}' chứa macro (VBA); tonghop không nhận tệp có macro, đề nghị lưu "
                "lại dạng .xlsx thường."
            )
    cells = XlsxCells()
    for member in members:
        if not member.filename.lower().endswith((".xml", ".rels")):
            continue
        try:
            # inflates at most the size the central directory declares (checked above); a
            # part that holds more fails its CRC here, before any reader inflates it
            part = archive.read(member)
        except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as exc:
            raise UnreadableFile(
                f"Tệp '{name}': phần '{member.filename}' không giải nén được hoặc khai sai kích "
                f"thước ({exc}); tệp bị từ chối."
            ) from exc
        head = part[:4096].lower()
        if b"<!doctype" in head or b"<!entity" in head:
            raise UnreadableFile(
                f"Tệp '{name}': phần '{member.filename}' khai báo DOCTYPE/ENTITY (có thể là tấn "
                "công XXE); tệp bị từ chối."
            )
        # A sheet without a formula element skips the regex, the costly part.
        if not member.filename.startswith("xl/worksheets/"):
            continue
        _check_extent(name, member.filename, part, limits)
        if _has_formula_element(part):
            cells.formulas.update(m.decode() for m in _FORMULA_CELL.findall(part))
        if b't="e"' in part:
            cells.errors.update((r.decode(), v.decode()) for r, v in _ERROR_CELL.findall(part))
    return cells


def _is_opendocument(archive: zipfile.ZipFile) -> bool:
    """Whether a zip is an OpenDocument file (its `mimetype` part says so)."""
    with archive.open("mimetype") as part:
        return b"opendocument" in part.read(100)


def _check_extent(name: str, part_name: str, part: bytes, limits: IntakeSettings) -> None:
    """Refuse a sheet whose cells (or declared dimension) reach past any form's extent."""
    refs = _DIMENSION.findall(part[:4096]) + _CELL_REF.findall(part)
    letters, numbers = (set(c) for c in zip(*refs, strict=True)) if refs else ((), ())
    columns = max((column_number(c.decode()) for c in letters), default=0)
    rows = max(map(int, {*_ROW_REF.findall(part), *numbers}), default=0)
    if columns > limits.max_form_columns or rows > limits.max_form_rows:
        raise UnreadableFile(
            f"Tệp '{name}': trang '{part_name}' có ô ở tận cột {thousands(columns)}, dòng "
            f"{thousands(rows)} (biểu mẫu chỉ tới cột {limits.max_form_column}, thiết lập "
            f"intake.max_form_column, và dòng {thousands(limits.max_form_rows)}, thiết lập "
            "intake.max_form_rows); tệp bị từ chối vì đọc nó sẽ chiếm bộ nhớ quá lớn ('bom ô "
            "xa'). Đề nghị dùng biểu mẫu do tonghop tạo và không nhập gì ngoài bảng."
        )


def _has_formula_element(part: bytes) -> bool:
    """Whether a sheet's XML holds an `<f>` element, as `_FORMULA_CELL` requires."""
    return b"<f>" in part or b"<f " in part or b"<f/" in part


def _utf16(data: bytes) -> str | None:
    """The UTF-16 codec a text's bytes are in, by their byte-order mark or NUL bytes; None.

    >>> _utf16(b"\\xff\\xfea\\x00"), _utf16("a,b\\n".encode("utf-16-be")), _utf16(b"a,b")
    ('utf-16', 'utf-16-be', None)
    """
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    head = data[:512]
    if len(head) >= 4 and head.count(b"\x00") * 3 >= len(head):
        return "utf-16-le" if head[1::2].count(0) > head[0::2].count(0) else "utf-16-be"
    return None


def decode_text(data: bytes) -> tuple[str, str | None]:
    """Decode a text file: UTF-8 (with or without BOM), else the legacy encoding it looks like.

    Returns the text (NFC) and, for another encoding than UTF-8, a note saying which was
    assumed. UTF-16 (Excel's "Unicode Text") is told by its byte-order mark, or by a NUL byte
    beside each ASCII character. A byte-order mark further in (files joined one after another)
    is taken out, and said.
    """
    text, note = _decoded(data)
    if "\ufeff" in text:
        text = text.replace("\ufeff", "")
        inner = "dấu BOM nằm giữa tệp (có thể do ghép nhiều tệp) đã được bỏ"
        note = f"{note}; {inner}" if note else inner
    return text, note


def _decoded(data: bytes) -> tuple[str, str | None]:
    """`decode_text` before the byte-order marks inside are taken out."""
    utf16 = _utf16(data)
    if utf16:
        try:
            text = data.decode(utf16)
        except UnicodeDecodeError:
            pass
        else:
            return unicodedata.normalize("NFC", text.removeprefix("\ufeff")), (
                "tệp dùng bảng mã UTF-16 (Excel 'Unicode Text'); đã đọc theo UTF-16, số liệu "
                "không bị ảnh hưởng"
            )
    try:
        return unicodedata.normalize("NFC", data.decode("utf-8-sig")), None
    except UnicodeDecodeError:
        pass
    latin = data.decode("latin-1")
    # TCVN3 writes a toned vowel as one byte (after a consonant); VNI writes the plain vowel
    # and then a mark byte: tell them apart by what stands before each high byte.
    vowels = "aeiouyAEIOUY"
    tcvn3 = sum(1 for i, ch in enumerate(latin) if ch in _TCVN3 and latin[i - 1 : i] not in vowels)
    vni = sum(1 for i, ch in enumerate(latin) if ch in _VNI_MARKS and latin[i - 1 : i] in vowels)
    tones = [i for i, b in enumerate(data) if b in _CP1258_TONES]
    after_vowel = sum(1 for i in tones if i and data[i - 1] in _CP1258_VOWELS)
    if tones and after_vowel >= 0.8 * len(tones):
        text = data.decode("cp1258", errors="replace")
        label = "Windows-1258"
    elif vni > tcvn3:
        text = latin
        label = "VNI (chữ có dấu trong ghi chú chưa được chuyển đổi)"
    else:
        text = "".join(_TCVN3.get(ch, ch) for ch in latin)
        label = "TCVN3 (ABC)"
    return unicodedata.normalize("NFC", text), (
        f"tệp không dùng bảng mã UTF-8; đã đọc theo bảng mã {label}. Mã đơn vị, mã chỉ tiêu và "
        "số liệu không bị ảnh hưởng; đề nghị đơn vị lưu tệp với UTF-8 ở lần sau"
    )
