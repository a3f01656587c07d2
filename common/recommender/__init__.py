"""Movie recommendations, framework-free: rating prediction, top-N ranking, content similarity.

The pieces, each in its own module:

- `content`: genre and year features of a movie; cosine similarity between movies.
- `ranking`: EASE (an item-item model built for top-N ranking on implicit feedback),
  popularity (damped mean) and an exact, vectorised top-N selection.
- `rating`: Surprise algorithms (SVD, SVD++, KNNBaseline, ...), exported to compact
  arrays that predict for trained users and fold in users who rated since training.
- `model`: the servable `RecommenderModel` (one registry version) and its queries:
  recommendations, similar movies, popular movies, rating estimates.
- `build`: fit every part from a ratings frame and a movies frame (artifact + arrays).
- `evaluation`: the published evaluation protocols (Surprise k-fold RMSE, per-user
  stratified top-N ranking split).
- `training`: build a model from ratings + movies and register it (`RECIPE`).

Users are never part of the ranking model: a user is the vector of their current
ratings, so a rating posted a second ago changes the next recommendation.
"""
