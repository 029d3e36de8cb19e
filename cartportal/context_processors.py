from cartportal.access import role_names
from cartportal.portal.nav import tabs_for


def portal(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"portal_roles": [], "portal_tabs": []}
    return {"portal_roles": sorted(role_names(user)), "portal_tabs": tabs_for(user, request.path)}
