"""Source families: which registered datasets are derived from the same original data.

The KEEL imbalanced collection cuts a handful of UCI datasets into many binary tasks (20 from
``ecoli``, 15 from ``yeast``, 13 from ``glass`` ...), the Zenodo benchmark of imbalanced-learn
repeats some of them (``abalone_19`` is KEEL's ``abalone19``), and the multiclass and long-tailed
entries reuse the same sources again. Tasks of one family share rows and features, so their
results are not independent: the task suites' statistics use families as blocks (Demšar 2006's
tests assume independent data sets) and count a task that two collections publish once.

A registry entry's family is :func:`family_of` its name unless the entry sets ``family``; its
duplicate is :data:`DUPLICATES`'s (or the entry's ``duplicate_of``).

Examples
--------
>>> family_of("ecoli_0_1_4_7_vs_2_3_5_6"), family_of("lt_pen_digits_ir100"), family_of("winequality_red_4")
('ecoli', 'pen_digits', 'wine_quality')
>>> DUPLICATES["abalone19"]
'abalone_19'
"""

from __future__ import annotations

import re

#: names whose family is not the first word of the name (stripped of its digits)
FAMILIES: dict[str, str] = {
    "winequality": "wine_quality",
    "wine": "wine_quality",
    "digits": "optical_digits",  # scikit-learn's digits are UCI optdigits' test part
    "optical": "optical_digits",
    "pen": "pen_digits",
    "letter": "letter",
    "keel": "satimage",  # keel_satimage (mc_keel_abalone is handled before)
    "satimage": "satimage",
    "new": "thyroid",  # new_thyroid1
    "newthyroid": "thyroid",
    "hypothyroid": "thyroid",
    "sick": "thyroid",  # Zenodo sick_euthyroid: the Garvan thyroid records again
    "page": "page_blocks",
    "kr": "kr_vs_k",
    "kddcup": "kddcup99",
    "led7digit": "led7digit",
    "flaref": "flare",
    "australian": "credit_approval",  # Statlog Australian credit is UCI crx, cleaned
    "crx": "credit_approval",
    "wisconsin": "breast_cancer_wisconsin",  # original, diagnostic (wdbc) and scikit-learn's copy of wdbc
    "wdbc": "breast_cancer_wisconsin",
    "breast": "breast_cancer_wisconsin",
    "mammographic": "mammographic_mass",
    "synthetic": "synthetic",
    "monk": "monks",
    "us": "us_crime",
    "yeast_ml8": "yeast_ml",  # the multi-label yeast data (Elisseeff & Weston), not UCI yeast
    "movement": "movement_libras",
    "libras": "movement_libras",
    "solar": "flare",  # Zenodo solar_flare_m0: UCI solar flare, as KEEL's flare-F
    "hayes": "hayes_roth",
    "post": "post_operative",
}

#: the same task published by two collections: name -> the entry counted in its place
DUPLICATES: dict[str, str] = {
    "abalone19": "abalone_19",  # KEEL abalone19 = Zenodo abalone_19 = UCI abalone, rings == 19 (4,177 rows, IR 129.4)
}

_PREFIX = re.compile(r"^(mc_keel_|mc_|lt_)")
_SUFFIX = re.compile(r"_ir\d+$")


def family_of(name: str) -> str:
    """The source family of a dataset name: the original data set it was cut from (see :data:`FAMILIES`)."""
    base = _SUFFIX.sub("", _PREFIX.sub("", name))
    if base in FAMILIES:
        return FAMILIES[base]
    word = re.sub(r"\d+$", "", base.split("_")[0]) or base
    return FAMILIES.get(word, word)
