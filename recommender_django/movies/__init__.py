"""Movies, ratings and the MovieLens import."""
