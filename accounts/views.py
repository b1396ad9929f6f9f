from django.core.paginator import Paginator
from django.shortcuts import render

from accounts.selectors import search_customers
from backoffice.permissions import staff_permission_required


@staff_permission_required("accounts.view_customer")
def customer_search(request):
    query = request.GET.get("q", "")[:64]
    page = Paginator(search_customers(query), 25).get_page(request.GET.get("page"))
    return render(request, "accounts/customer_search.html", {"query": query, "page": page})
