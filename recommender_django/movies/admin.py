from __future__ import annotations

from django.contrib import admin

from recommender_django.movies.models import ImportedRater, Movie, Rating


@admin.register(Movie)
class MovieAdmin(admin.ModelAdmin):
    list_display = ("id", "title", "year", "genres", "source", "movielens_id")
    list_filter = ("source",)
    search_fields = ("title", "genres")
    readonly_fields = ("created_at", "updated_at")
    fields = ("title", "year", "genres", "movielens_id", "source", "created_at", "updated_at")


@admin.register(Rating)
class RatingAdmin(admin.ModelAdmin):
    list_display = ("id", "user", "movie", "value", "updated_at")
    list_select_related = ("user", "movie")
    raw_id_fields = ("user", "movie")
    search_fields = ("user__username", "movie__title")
    readonly_fields = ("created_at", "updated_at")
    show_full_result_count = False


@admin.register(ImportedRater)
class ImportedRaterAdmin(admin.ModelAdmin):
    list_display = ("user", "dataset", "movielens_user_id")
    list_filter = ("dataset",)
    raw_id_fields = ("user",)
    search_fields = ("user__username",)
