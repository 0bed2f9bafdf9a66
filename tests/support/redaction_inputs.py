"""Text that made the first redaction patterns quadratic, or that floods linear ones with
candidate starts and matches; shared by tests/unit/test_redact.py and benchmarks/redact.py.

Each entry is (piece, head, tail): the text is head + piece repeated to size + tail.
"""

ADVERSARIAL: dict[str, tuple[str, str, str]] = {
    '"a"*N + "@"': ("a", "", "@"),  # issue 8: 3.8 s at 40 KB before
    '"a.b@" + "c."*N': ("c.", "a.b@", ""),  # issue 8: 10.7 s at 40 KB before
    '"1"*N': ("1", "", ""),
    "full-width digits": ("\uff11", "", ""),
    '"@"*N': ("@", "", ""),
    '("a"*63 + "@")*N': ("a" * 63 + "@", "", ""),
    '"a@b."*N': ("a@b.", "", ""),
    '"1 "*N (card candidates)': ("1 ", "", ""),
    '"1-"*N': ("1-", "", ""),
    '"(1"*N': ("(1", "", ""),
    '"0901 234 5"*N': ("0901 234 5", "", ""),
    "e-mail, phone, card mix": ("tên.tôi@gmail.com 0912345678 4111 1111 1111 1111 ", "", ""),
}
