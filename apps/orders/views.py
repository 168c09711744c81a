"""Order pages: pricing, new order, order detail with live progress, test checkout, receipts,
the gallery (favourites, downloads, re-rolls, "download all"), and the Stripe webhook."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.utils.text import slugify
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.accounts.decorators import workspace_manager_required, workspace_required
from apps.orders import selectors, services, stripe_gateway, webhooks
from apps.orders.forms import OrderForm, RerollForm, SeatAssignForm, TeamStylesForm
from apps.orders.models import Order, Seat
from apps.photos.files import content_type_for_key, serve_private_file


def _errors(exc: ValidationError) -> str:
    return " ".join(exc.messages)


def _form_errors(form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for name, errors in exc.error_dict.items():
            form.add_error(name if name in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


def _order_or_404(request: HttpRequest, public_id) -> Order:
    order = selectors.order_for_member(
        workspace=request.workspace, membership=request.membership, public_id=public_id
    )
    if order is None:
        raise Http404("No such order")
    return order


def _detail(order: Order):
    return redirect("orders:detail", workspace=order.workspace.slug, order=order.public_id)


@require_GET
def pricing(request: HttpRequest) -> HttpResponse:
    return render(request, "orders/pricing.html", {"packages": selectors.packages_active()})


@require_GET
@workspace_required
def order_list(request: HttpRequest, workspace: str) -> HttpResponse:
    orders = selectors.orders_for_member(workspace=request.workspace, membership=request.membership)
    return render(request, "orders/list.html", {"workspace": request.workspace, "orders": orders})


@require_http_methods(["GET", "POST"])
@workspace_manager_required
def order_new(request: HttpRequest, workspace: str) -> HttpResponse:
    form = OrderForm(request.POST or None, workspace=request.workspace)
    if request.method == "POST" and form.is_valid():
        try:
            order = services.order_create(
                workspace=request.workspace,
                buyer=request.user,
                package=form.cleaned_data["package"],
                styles=list(form.cleaned_data["styles"]),
                seats=form.cleaned_data.get("seats") or 1,
                consent_given=form.cleaned_data["consent"],
            )
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, "Order created. Next: add photos, then pay.")
            return _detail(order)
    return render(
        request,
        "orders/new.html",
        {"workspace": request.workspace, "form": form, "locked_styles": form.locked_styles},
    )


def _detail_context(request: HttpRequest, order: Order) -> dict:
    seats = selectors.seats_for_member(order=order, membership=request.membership)
    return {
        "workspace": request.workspace,
        "order": order,
        "progress": selectors.order_progress(order=order, seats=seats),
        "can_manage": request.membership.can_manage,
    }


@require_GET
@workspace_required
def order_detail(request: HttpRequest, workspace: str, order) -> HttpResponse:
    order_obj = _order_or_404(request, order)
    context = _detail_context(request, order_obj)
    checkout = request.GET.get("checkout")
    if checkout == "success" and order_obj.paid_at is None:
        messages.info(request, "Thanks! We are waiting for the payment confirmation.")
    elif checkout == "cancelled":
        messages.info(request, "Payment cancelled. You can pay whenever you are ready.")
    context.update(
        checkout_mode=services.checkout_mode(),
        assign_form=SeatAssignForm(order=order_obj) if request.membership.can_manage else None,
        styles=order_obj.styles.order_by("sort_order", "name"),
    )
    return render(request, "orders/detail.html", context)


@require_GET
@workspace_required
def order_progress(request: HttpRequest, workspace: str, order) -> HttpResponse:
    order_obj = _order_or_404(request, order)
    return render(request, "orders/_progress.html", _detail_context(request, order_obj))


@require_POST
@workspace_manager_required
def order_checkout(request: HttpRequest, workspace: str, order) -> HttpResponse:
    order_obj = _order_or_404(request, order)
    try:
        url = services.order_checkout_start(order=order_obj, actor=request.user)
    except (ValidationError, stripe_gateway.GatewayError) as exc:
        messages.error(request, _errors(exc) if isinstance(exc, ValidationError) else str(exc))
        return _detail(order_obj)
    return redirect(url)


@require_http_methods(["GET", "POST"])
@workspace_manager_required
def test_checkout(request: HttpRequest, workspace: str, order) -> HttpResponse:
    """The local test checkout: only with DEBUG on and no Stripe keys; 404 otherwise."""
    if services.checkout_mode() != "test":
        raise Http404("No test checkout here")
    order_obj = _order_or_404(request, order)
    if request.method == "POST":
        try:
            services.order_test_checkout_complete(order=order_obj, actor=request.user)
        except ValidationError as exc:
            messages.error(request, _errors(exc))
        else:
            messages.success(request, "Test payment received — no money moved.")
        return _detail(order_obj)
    return render(
        request, "orders/test_checkout.html", {"workspace": request.workspace, "order": order_obj}
    )


@require_GET
@workspace_required
def order_receipt(request: HttpRequest, workspace: str, order) -> HttpResponse:
    order_obj = _order_or_404(request, order)
    if order_obj.paid_at is None:
        raise Http404("No receipt before payment")
    return render(
        request,
        "orders/receipt.html",
        {
            "workspace": request.workspace,
            "order": order_obj,
            "ledger": selectors.ledger_for_order(order_obj),
        },
    )


@require_POST
@workspace_manager_required
def seat_assign(request: HttpRequest, workspace: str, order, seat) -> HttpResponse:
    order_obj = _order_or_404(request, order)
    seat_obj = (
        Seat.objects.for_workspace(request.workspace)
        .filter(order=order_obj, public_id=seat)
        .first()
    )
    if seat_obj is None:
        raise Http404("No such seat")
    form = SeatAssignForm(request.POST, order=order_obj)
    if form.is_valid():
        try:
            services.seat_assign(
                seat=seat_obj,
                actor=request.user,
                member=form.cleaned_data["member"],
                email=form.cleaned_data["email"] or "",
            )
        except ValidationError as exc:
            messages.error(request, _errors(exc))
        else:
            messages.success(request, "Seat assigned.")
    else:
        messages.error(request, "Choose a member or enter a valid email address.")
    return _detail(order_obj)


@require_http_methods(["GET", "POST"])
@workspace_manager_required
def team_styles(request: HttpRequest, workspace: str) -> HttpResponse:
    initial = {"styles": selectors.team_styles(request.workspace)}
    form = TeamStylesForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.workspace_team_styles_set(
                workspace=request.workspace,
                styles=list(form.cleaned_data["styles"]),
                actor=request.user,
            )
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, "Company styles saved; new team orders use them.")
            return redirect("orders:list", workspace=request.workspace.slug)
    return render(
        request, "orders/team_styles.html", {"workspace": request.workspace, "form": form}
    )


# --- Gallery ----------------------------------------------------------------------------------


def _gallery_context(request: HttpRequest, order: Order) -> dict:
    seats = selectors.seats_for_member(order=order, membership=request.membership)
    allowed = selectors.downloads_allowed(order=order)
    images = list(selectors.gallery_images(order=order, seats=seats)) if allowed else []
    people = []
    for seat in seats:
        mine = [image for image in images if image.subject_id == seat.subject_id]
        people.append({"seat": seat, "images": mine})
    return {
        "workspace": request.workspace,
        "order": order,
        "allowed": allowed,
        "blocked_reason": "" if allowed else selectors.downloads_blocked_reason(order=order),
        "people": people,
        "image_count": len(images),
        # The retention clock the customer is told about: the first visible portrait to go.
        "kept_until": min((i.purge_after for i in images if i.purge_after), default=None),
        "held_count": selectors.held_images_count(order=order, seats=seats) if allowed else 0,
        "credits": selectors.credit_balance(order=order),
        "reroll_form": RerollForm(order=order, seats=seats),
        "can_reroll": allowed and order.status == Order.Status.DELIVERED,
        "export": selectors.latest_export(order=order) if allowed else None,
    }


@require_GET
@workspace_required
def gallery(request: HttpRequest, workspace: str, order) -> HttpResponse:
    order_obj = _order_or_404(request, order)
    return render(request, "orders/gallery.html", _gallery_context(request, order_obj))


def _portrait_or_404(request: HttpRequest, order: Order, public_id):
    if not selectors.downloads_allowed(order=order):
        raise Http404("Not available")
    seats = selectors.seats_for_member(order=order, membership=request.membership)
    image = selectors.gallery_image(order=order, seats=seats, public_id=public_id)
    if image is None:
        raise Http404("No such portrait")
    return image


@require_POST
@workspace_required
def portrait_favourite(request: HttpRequest, workspace: str, order, portrait) -> HttpResponse:
    order_obj = _order_or_404(request, order)
    image = _portrait_or_404(request, order_obj, portrait)
    services.portrait_favourite_set(image=image, favourite=request.POST.get("favourite") == "1")
    if request.headers.get("HX-Request"):
        return render(
            request,
            "orders/_favourite.html",
            {"workspace": request.workspace, "order": order_obj, "image": image},
        )
    return redirect("orders:gallery", workspace=request.workspace.slug, order=order_obj.public_id)


@require_GET
@workspace_required
def portrait_download(request: HttpRequest, workspace: str, order, portrait) -> HttpResponse:
    order_obj = _order_or_404(request, order)
    image = _portrait_or_404(request, order_obj, portrait)
    ext = image.image.name.rsplit(".", 1)[-1].lower() if "." in image.image.name else "png"
    person = slugify(image.subject.display_name) or "portrait"
    return serve_private_file(
        request,
        image.image,
        content_type=content_type_for_key(image.image.name),
        download_name=f"likeness-{person}-{str(image.public_id)[:8]}.{ext}",
    )


@require_POST
@workspace_required
def reroll(request: HttpRequest, workspace: str, order) -> HttpResponse:
    order_obj = _order_or_404(request, order)
    seats = selectors.seats_for_member(order=order_obj, membership=request.membership)
    form = RerollForm(request.POST, order=order_obj, seats=seats)
    if form.is_valid():
        try:
            services.order_reroll(
                order=order_obj,
                seat=form.cleaned_data["seat"],
                style=form.cleaned_data["style"],
                actor=request.user,
            )
        except ValidationError as exc:
            messages.error(request, _errors(exc))
        else:
            messages.success(
                request, "One credit spent: your new portraits will appear here in a few minutes."
            )
    else:
        messages.error(request, "Choose a person and one of your order's styles.")
    return redirect("orders:gallery", workspace=request.workspace.slug, order=order_obj.public_id)


# --- "Download all" ---------------------------------------------------------------------------


def _export_or_404(request: HttpRequest, order: Order, public_id):
    export = selectors.export_for_order(order=order, public_id=public_id)
    if export is None:
        raise Http404("No such download")
    return export


# "All" means every seat's portraits: owners and admins only.


@require_POST
@workspace_manager_required
def export_create(request: HttpRequest, workspace: str, order) -> HttpResponse:
    order_obj = _order_or_404(request, order)
    try:
        export = services.zip_export_request(order=order_obj, actor=request.user)
    except ValidationError as exc:
        messages.error(request, _errors(exc))
        return redirect(
            "orders:gallery", workspace=request.workspace.slug, order=order_obj.public_id
        )
    if request.headers.get("HX-Request"):
        return render(
            request,
            "orders/_export.html",
            {"workspace": request.workspace, "order": order_obj, "export": export},
        )
    return redirect("orders:gallery", workspace=request.workspace.slug, order=order_obj.public_id)


@require_GET
@workspace_manager_required
def export_status(request: HttpRequest, workspace: str, order, export) -> HttpResponse:
    order_obj = _order_or_404(request, order)
    export_obj = _export_or_404(request, order_obj, export)
    return render(
        request,
        "orders/_export.html",
        {"workspace": request.workspace, "order": order_obj, "export": export_obj},
    )


@require_GET
@workspace_manager_required
def export_download(request: HttpRequest, workspace: str, order, export) -> HttpResponse:
    order_obj = _order_or_404(request, order)
    if not selectors.downloads_allowed(order=order_obj):
        raise Http404("Not available")
    export_obj = _export_or_404(request, order_obj, export)
    return serve_private_file(
        request,
        export_obj.file,
        content_type="application/zip",
        download_name=f"likeness-portraits-{str(order_obj.public_id)[:8]}.zip",
    )


# --- Stripe -----------------------------------------------------------------------------------


@csrf_exempt
@require_POST
def stripe_webhook(request: HttpRequest) -> HttpResponse:
    """Signed Stripe events: 400 when the signature or its age is wrong; 200 once stored and
    processed (or ignored); an exception while processing rolls back and answers 500."""
    try:
        event = stripe_gateway.webhook_event(
            payload=request.body, signature_header=request.headers.get("Stripe-Signature", "")
        )
    except stripe_gateway.InvalidWebhook:
        return HttpResponseBadRequest("Invalid Stripe signature.")
    webhooks.stripe_event_receive(event=event)
    return HttpResponse("ok", content_type="text/plain")
