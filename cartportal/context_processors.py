from cartportal.access import role_names


def portal(request):
    user = getattr(request, "user", None)
    return {"portal_roles": sorted(role_names(user)) if user is not None else []}
