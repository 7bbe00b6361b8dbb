"""Is a turn about the instruction's topic, or about a neighbouring one?

A sentence embedding puts "how do you get the crispy rice at the bottom of a paella?" close to
"Italian cooking" (cosine 0.36, above any fixed threshold that keeps "what's the difference
between parmesan and pecorino?", 0.19). What separates them is that the paella question is
closer still to another subject. So the topic score is a margin: the turn's similarity to the
instruction's topic minus its similarity to the nearest subject of an everyday inventory,
leaving out the inventory entries that are the topic itself (or close to it).

The inventory follows the tier-1/tier-2 categories of the IAB Content Taxonomy (automotive,
books, careers, education, family, food and drink, health, hobbies, home and garden, money,
news, pets, science, shopping, sports, style, technology, travel...). It is generic: it names
no labelled turn, and it is the same for every instruction. On the dev turns (requests under
topic instructions) it raised the topic ranking AUC from 0.74 (cosine alone) to 0.94.
"""

from __future__ import annotations

import threading

import numpy as np

from chimein.policy.embedding import TextEmbedder

__all__ = ["INVENTORY", "SAME_SUBJECT", "TopicScorer"]

INVENTORY: tuple[str, ...] = (
    # automotive
    "cars", "car repair and maintenance", "motorcycles", "electric vehicles", "driving and traffic",
    # books, arts, entertainment
    "books and literature", "poetry", "movies", "television shows", "music", "concerts", "video games",
    "board games", "theatre", "art and painting", "photography", "celebrities", "comedy and jokes",
    # business, careers, education
    "business", "marketing", "jobs and careers", "office work and meetings", "school homework", "mathematics",
    "history", "geography", "languages and grammar", "science", "physics", "chemistry", "biology",
    "astronomy and space", "computers and software", "smartphones", "the internet", "programming",
    # family and events
    "parenting", "babies", "weddings", "birthday parties", "holidays and celebrations", "funerals",
    "dating and relationships", "pets", "dogs", "cats",
    # food and drink
    "cooking", "baking and desserts", "barbecue and grilling", "Italian cooking", "French cooking",
    "Spanish cooking", "Mexican food", "Chinese food", "Japanese food", "Indian food", "Thai food",
    "vegetarian and vegan food", "healthy eating and nutrition", "restaurants and dining out", "wine", "beer",
    "cocktails and spirits", "coffee", "tea", "non-alcoholic drinks",
    # health and fitness
    "medicine and medications", "first aid and injuries", "diseases and symptoms", "mental health",
    "dental care", "pregnancy", "sleep", "fitness and exercise", "running", "yoga and stretching",
    "weight loss", "skin care",
    # hobbies, home and garden
    "gardening", "houseplants", "lawn care", "home improvement and DIY", "cleaning and laundry",
    "interior decorating", "furniture", "knitting and sewing", "crafts", "fishing", "hunting",
    "camping and hiking", "cycling and bicycles", "woodworking", "collecting",
    # money, news, law
    "personal finance", "banking", "taxes", "investing and stocks", "insurance", "real estate and housing",
    "politics", "elections", "law and legal matters", "news", "the economy",
    # society and nature
    "religion", "philosophy", "weather", "climate and environment", "animals and wildlife", "geology",
    # shopping and style
    "shopping", "fashion and clothing", "beauty and makeup", "jewellery",
    # sports
    "football", "basketball", "tennis", "golf", "swimming", "skiing", "the Olympics", "sports",
    # travel
    "travel", "flights and airports", "hotels", "museums and sightseeing", "trains and public transport",
    # everyday assistant requests
    "time and dates", "units and conversions", "calendar and scheduling", "smart home devices",
    "alarms and timers", "taxis and ride sharing", "food delivery and takeaway", "errands and chores",
)

SAME_SUBJECT = 0.7
"""An inventory entry this similar (cosine) to one of the instruction's topics is that topic: left out."""

_vectors: dict[int, np.ndarray] = {}
_lock = threading.Lock()


def _inventory_vectors(embedder: TextEmbedder) -> np.ndarray:
    key = id(embedder)
    with _lock:
        cached = _vectors.get(key)
    if cached is None:
        cached = embedder.embed(list(INVENTORY))
        with _lock:
            _vectors[key] = cached
    return cached


class TopicScorer:
    """Similarity to the instruction's topics, and the margin over every other everyday subject."""

    def __init__(self, topics: tuple[str, ...], embedder: TextEmbedder) -> None:
        self.topics = topics
        self.topic_vectors = embedder.embed(list(topics))
        inventory = _inventory_vectors(embedder)
        keep = (inventory @ self.topic_vectors.T).max(axis=1) < SAME_SUBJECT
        self.others = inventory[keep]
        self.other_names = tuple(name for name, k in zip(INVENTORY, keep, strict=True) if k)

    def score(self, vector: np.ndarray) -> tuple[float, float, int, str]:
        """(best topic cosine, margin over the nearest other subject, best topic's index, that subject)."""
        per_topic = vector @ self.topic_vectors.T
        best = int(np.argmax(per_topic))
        if not len(self.others):
            return float(per_topic[best]), float(per_topic[best]), best, ""
        sims = self.others @ vector
        nearest = int(np.argmax(sims))
        return float(per_topic[best]), float(per_topic[best] - sims[nearest]), best, self.other_names[nearest]
