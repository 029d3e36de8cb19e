"""Review friction: sentiment and themes (shipping, packaging, quality, price, service) of review text,
aggregated per product, category and region.

Sentiment is a TF-IDF + logistic-regression model trained on labelled review sentences (English); a small
lexicon covers Portuguese and other text the model has no vocabulary for, and a star rating, when there is
one, is blended in. Themes come from a keyword lexicon in English and Portuguese.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
from django.conf import settings
from django.db.models import Q
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, make_pipeline

from cartportal.models import Review

THEMES = {
    "shipping": [
        "ship",
        "shipping",
        "shipped",
        "deliver",
        "delivery",
        "delivered",
        "late",
        "arrive",
        "arrived",
        "courier",
        "tracking",
        "days",
        "weeks",
        "wait",
        "waiting",
        "entrega",
        "entregue",
        "entregar",
        "prazo",
        "atraso",
        "atrasado",
        "atrasada",
        "chegou",
        "chegaram",
        "chegar",
        "recebi",
        "receber",
        "recebido",
        "correio",
        "correios",
        "transportadora",
        "frete",
        "demora",
        "demorou",
        "rastreio",
    ],
    "packaging": [
        "package",
        "packaging",
        "packed",
        "box",
        "wrapped",
        "wrapping",
        "damaged",
        "crushed",
        "dented",
        "seal",
        "sealed",
        "embalagem",
        "embalado",
        "embalada",
        "caixa",
        "lacrado",
        "lacre",
        "amassado",
        "amassada",
        "avariado",
        "violada",
    ],
    "quality": [
        "quality",
        "broke",
        "broken",
        "break",
        "defective",
        "defect",
        "cheap",
        "flimsy",
        "sturdy",
        "durable",
        "works",
        "worked",
        "stopped",
        "poor",
        "junk",
        "faulty",
        "qualidade",
        "defeito",
        "quebrado",
        "quebrada",
        "quebrou",
        "funciona",
        "funcionou",
        "material",
        "original",
        "falsificado",
        "frágil",
        "fragil",
        "resistente",
    ],
    "price": [
        "price",
        "priced",
        "expensive",
        "overpriced",
        "cost",
        "costs",
        "value",
        "money",
        "refund",
        "deal",
        "worth",
        "bargain",
        "preço",
        "preco",
        "caro",
        "cara",
        "barato",
        "barata",
        "custo",
        "valor",
        "dinheiro",
        "reembolso",
        "estorno",
        "desconto",
    ],
    "service": [
        "service",
        "support",
        "customer",
        "seller",
        "contact",
        "response",
        "respond",
        "replied",
        "rude",
        "helpful",
        "return",
        "returned",
        "exchange",
        "warranty",
        "atendimento",
        "vendedor",
        "loja",
        "suporte",
        "contato",
        "resposta",
        "troca",
        "devolução",
        "devolucao",
        "garantia",
        "cancelar",
        "cancelamento",
    ],
}
NEGATIVE_WORDS = {
    "não",
    "nao",
    "nunca",
    "ruim",
    "péssimo",
    "pessimo",
    "péssima",
    "horrível",
    "horrivel",
    "defeito",
    "atraso",
    "atrasado",
    "atrasada",
    "quebrado",
    "quebrada",
    "problema",
    "errado",
    "errada",
    "falta",
    "faltando",
    "decepcionado",
    "decepcionada",
    "reclamação",
    "insatisfeito",
    "insatisfeita",
    "demorou",
    "cancelado",
}
POSITIVE_WORDS = {
    "bom",
    "boa",
    "ótimo",
    "otimo",
    "ótima",
    "otima",
    "excelente",
    "perfeito",
    "perfeita",
    "recomendo",
    "adorei",
    "gostei",
    "rápido",
    "rapido",
    "rápida",
    "rapida",
    "antes",
    "satisfeito",
    "satisfeita",
    "parabéns",
    "parabens",
    "lindo",
    "linda",
    "maravilhoso",
    "top",
    "certinho",
    "tudo",
}
THEME_NAMES = list(THEMES)


def _fold(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text.lower()) if not unicodedata.combining(c))


_THEME_PATTERNS = {
    theme: re.compile(r"\b(" + "|".join(sorted({re.escape(_fold(w)) for w in words}, key=len, reverse=True)) + r")\b")
    for theme, words in THEMES.items()
}
_NEGATIVE = {_fold(w) for w in NEGATIVE_WORDS}
_POSITIVE = {_fold(w) for w in POSITIVE_WORDS}


def themes_of(text: str) -> list[str]:
    folded = _fold(text or "")
    return [theme for theme, pattern in _THEME_PATTERNS.items() if pattern.search(folded)]


def load_labelled_sentences(path: Path) -> pd.DataFrame:
    rows = []
    for line in Path(path).read_text(encoding="utf-8", errors="replace").splitlines():
        text, _, label = line.rpartition("\t")
        if text and label.strip() in {"0", "1"}:
            rows.append((text.strip(), int(label)))
    if len(rows) < 20:
        raise ValueError(f"{path} has fewer than 20 'sentence<TAB>0|1' lines")
    return pd.DataFrame(rows, columns=["text", "label"])


SENTIMENT_VERSION = 1  # bump when the pipeline or the features change, so a cached fitted model is not reused


def sentiment_pipeline():
    features = FeatureUnion(
        [
            ("words", TfidfVectorizer(ngram_range=(1, 2), min_df=1, sublinear_tf=True)),
            ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), min_df=2, sublinear_tf=True)),
        ]
    )
    return make_pipeline(features, LogisticRegression(C=4.0, max_iter=2000))


@dataclass
class SentimentModel:
    """Probability that a review is positive."""

    pipeline: object | None = None

    def fit(self, texts, labels) -> SentimentModel:
        self.pipeline = sentiment_pipeline().fit(list(texts), list(labels))
        self.vocabulary = self.pipeline.steps[0][1].transformer_list[0][1].vocabulary_
        return self

    def _known_share(self, text: str) -> float:
        tokens = re.findall(r"\w+", text.lower())
        return sum(t in self.vocabulary for t in tokens) / len(tokens) if tokens else 0.0

    def positive_probability(self, texts: list[str], ratings: list[int | None] | None = None) -> np.ndarray:
        texts = [t or "" for t in texts]
        model = self.pipeline.predict_proba(texts)[:, 1] if self.pipeline and texts else np.full(len(texts), 0.5)
        out = np.empty(len(texts))
        for i, text in enumerate(texts):
            known = self._known_share(text) if self.pipeline else 0.0
            lexicon = _lexicon_score(text)
            # text in another language: lean on the lexicon where the English model knows few words
            out[i] = known * model[i] + (1 - known) * lexicon if lexicon is not None else model[i]
            if not text.strip():
                out[i] = 0.5
            if ratings is not None and ratings[i] is not None:
                out[i] = 0.5 * out[i] + 0.5 * (ratings[i] - 1) / 4
        return out


def _lexicon_score(text: str) -> float | None:
    tokens = re.findall(r"\w+", _fold(text))
    negative = sum(t in _NEGATIVE for t in tokens)
    positive = sum(t in _POSITIVE for t in tokens)
    if not negative and not positive:
        return None
    return (positive + 1) / (positive + negative + 2)


SENTIMENT_CACHE_SECONDS = 30 * 24 * 3600


def _training_file() -> Path:
    folder = Path(settings.CARTPORTAL_DATA_DIR or Path(settings.BASE_DIR).parent / "shared" / "data")
    return folder / "amazon_cells_labelled.txt"


@lru_cache(maxsize=1)
def default_model() -> SentimentModel:
    """Trained on the labelled sentences in the data folder when present; otherwise lexicon only.

    Fitting takes seconds, so the fitted model is kept in the shared cache under the training file's checksum:
    a restarted or additional web process loads it instead of fitting it again in a user's request."""
    path = _training_file()
    if not path.is_file():
        return SentimentModel()
    from django.core.cache import cache

    content = path.read_bytes()
    key = f"review-sentiment-model:{hashlib.sha256(content).hexdigest()}:{SENTIMENT_VERSION}"
    model = cache.get(key)
    if model is None:
        data = load_labelled_sentences(path)
        model = SentimentModel().fit(data["text"], data["label"])
        cache.set(key, model, SENTIMENT_CACHE_SECONDS)
    return model


def analyse(texts: list[str], ratings: list[int | None] | None = None, model: SentimentModel | None = None):
    model = model or default_model()
    positive = model.positive_probability(texts, ratings)
    return [
        {"positive": round(float(p), 4), "negative": bool(p < 0.5), "themes": themes_of(t)}
        for t, p in zip(texts, positive, strict=True)
    ]


GROUPINGS = {"product": "product__sku", "category": "product__category", "region": "region__code"}


def review_friction(user, by: str = "category", region_ids: list[int] | None = None, model=None) -> pd.DataFrame:
    """Per product, category or region: reviews, share negative, and the share of negative reviews per theme."""
    if by not in GROUPINGS:
        raise ValueError(f"group by one of {', '.join(GROUPINGS)}")
    reviews = Review.objects.restrict(user, "view").filter(~Q(text="") | ~Q(title=""))
    if region_ids:
        reviews = reviews.filter(region_id__in=region_ids)
    rows = list(reviews.values_list(GROUPINGS[by], "title", "text", "rating"))
    columns = ["group", "reviews", "negative_share"] + [f"{t}_share" for t in THEME_NAMES]
    if not rows:
        return pd.DataFrame(columns=columns)
    frame = pd.DataFrame(rows, columns=["group", "title", "text", "rating"])
    frame["group"] = frame["group"].fillna("(none)").replace("", "(none)")
    texts = (frame["title"].fillna("") + ". " + frame["text"].fillna("")).str.strip(". ").tolist()
    ratings = [None if pd.isna(r) else int(r) for r in frame["rating"]]
    results = analyse(texts, ratings, model)
    frame["negative"] = [r["negative"] for r in results]
    for theme in THEME_NAMES:
        frame[theme] = [theme in r["themes"] and r["negative"] for r in results]
    grouped = frame.groupby("group")
    out = pd.DataFrame({"reviews": grouped.size(), "negative_share": grouped["negative"].mean()})
    negatives = grouped["negative"].sum().clip(lower=1)
    for theme in THEME_NAMES:
        out[f"{theme}_share"] = grouped[theme].sum() / negatives
    return out.reset_index().rename(columns={"index": "group"}).sort_values("reviews", ascending=False)[columns]
