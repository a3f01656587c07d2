"""Reference servers for `mlapps compare`: the HTTP floor and the article's Flask app."""
