"""The WeCom domain verification files (api.md §20.4), served at the site's root exactly as
entered: WeCom fetches ``/WW_verify_<16 letters or digits>.txt`` when an admin saves the app's
可信域名. Any other name, or one nobody entered, is a 404."""

from django.http import Http404, HttpResponse
from django.views.decorators.http import require_safe

from .models import DOMAIN_FILE_NAME, DomainVerificationFile


@require_safe
def domain_file(request, name: str):
    if not DOMAIN_FILE_NAME.fullmatch(name):
        raise Http404
    found = DomainVerificationFile.objects.filter(name=name).values_list("content", flat=True)
    content = found.first()
    if content is None:
        raise Http404
    return HttpResponse(content.encode("utf-8"), content_type="text/plain; charset=utf-8")
