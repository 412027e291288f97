from django.urls import path

from signup import views

app_name = "signup"

urlpatterns = [
    path("<slug:slug>/", views.home, name="home"),
    path("<slug:slug>/signup/", views.signup, name="form"),
    path("<slug:slug>/signup/confirm/<str:token>/", views.confirm, name="confirm"),
    path("<slug:slug>/activate/<str:token>/", views.activate, name="activate"),
    path("<slug:slug>/signin/", views.signin, name="signin"),
    path("<slug:slug>/signout/", views.signout, name="signout"),
]
