from __future__ import annotations

from django import forms
from django.contrib.auth.forms import UserCreationForm

RATING_CHOICES = [(f"{v / 2:g}", f"{v / 2:g} ★") for v in range(10, 0, -1)]


class SignUpForm(UserCreationForm):
    class Meta(UserCreationForm.Meta):
        fields = ("username",)


class RatingForm(forms.Form):
    value = forms.TypedChoiceField(choices=RATING_CHOICES, coerce=float, label="Your rating")


class SearchForm(forms.Form):
    q = forms.CharField(required=False, max_length=200, label="Title")
    genre = forms.CharField(required=False, max_length=50)
    page = forms.IntegerField(required=False, min_value=1, max_value=100_000)
