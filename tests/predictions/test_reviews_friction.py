import pandas as pd
import pytest
from sklearn.model_selection import train_test_split

from predictions import reviews
from tests.factories import ProductFactory, ReviewFactory


@pytest.fixture
def sentences(data_dir):
    return reviews.load_labelled_sentences(data_dir / "amazon_cells_labelled.txt")


@pytest.fixture
def trained(sentences):
    return reviews.SentimentModel().fit(sentences["text"], sentences["label"])


def test_sentiment_is_accurate_on_held_out_sentences(sentences):
    train, test = train_test_split(sentences, test_size=0.25, random_state=0, stratify=sentences["label"])
    model = reviews.SentimentModel().fit(train["text"], train["label"])
    predicted = model.positive_probability(test["text"].tolist()) >= 0.5
    accuracy = (predicted == test["label"].to_numpy().astype(bool)).mean()
    assert len(sentences) == 1000
    assert accuracy > 0.78


def test_themes_in_english_and_portuguese():
    assert reviews.themes_of("Arrived two weeks late and the box was crushed") == ["shipping", "packaging"]
    assert reviews.themes_of("O produto chegou com defeito e o atendimento não respondeu") == [
        "shipping",
        "quality",
        "service",
    ]
    assert reviews.themes_of("Preço muito caro") == ["price"]
    assert reviews.themes_of("") == []


def test_portuguese_sentiment_uses_the_lexicon(trained):
    negative, positive = trained.positive_probability(
        ["Produto péssimo, chegou quebrado e não recomendo", "Ótimo produto, chegou antes do prazo, recomendo"]
    )
    assert negative < 0.5 < positive


def test_star_rating_is_blended_in(trained):
    without, with_one_star = trained.positive_probability(["It is ok"] * 2, [None, 1])
    assert with_one_star < without


def test_olist_comments_get_themes(data_dir, trained):
    frame = pd.read_csv(data_dir / "olist_subset" / "olist_order_reviews_dataset.csv")
    comments = frame.dropna(subset=["review_comment_message"])
    results = reviews.analyse(comments["review_comment_message"].tolist(), comments["review_score"].tolist(), trained)
    with_theme = sum(bool(r["themes"]) for r in results) / len(results)
    assert with_theme > 0.3
    # low star reviews come out negative far more often than five-star ones
    negative = pd.Series([r["negative"] for r in results], index=comments.index)
    assert negative[comments["review_score"] <= 2].mean() > 0.8
    assert negative[comments["review_score"] == 5].mean() < 0.2


def test_friction_aggregates_are_scoped_to_the_users_regions(world, trained):
    late = ProductFactory(category="garden")
    fine = ProductFactory(category="kitchen")
    for _ in range(3):
        ReviewFactory(product=late, customer__region=world.region_a, rating=1, text="Arrived late, box damaged")
    ReviewFactory(product=fine, customer__region=world.region_a, rating=5, text="Great quality, love it")
    ReviewFactory(product=fine, customer__region=world.region_b, rating=1, text="Terrible service, rude seller")
    table = reviews.review_friction(world.manager_a, by="category", model=trained).set_index("group")
    assert table.loc["garden", "reviews"] == 3 and table.loc["garden", "negative_share"] == 1.0
    assert table.loc["garden", "shipping_share"] == 1.0 and table.loc["garden", "packaging_share"] == 1.0
    assert table.loc["kitchen", "reviews"] == 1 and table.loc["kitchen", "negative_share"] == 0.0
    by_region = reviews.review_friction(world.executive, by="region", model=trained).set_index("group")
    assert by_region.loc["SOUTH", "service_share"] == 1.0
    assert "SOUTH" not in reviews.review_friction(world.manager_a, by="region", model=trained)["group"].tolist()
    with pytest.raises(ValueError, match="group by"):
        reviews.review_friction(world.manager_a, by="colour")
