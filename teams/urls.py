from django.urls import path

from teams import views

urlpatterns = [
    path("invite/<str:key>", views.invitation_accept_page, name="invitation_accept"),
]
