from __future__ import annotations

from django import forms
from django.conf import settings

from apps.accounts.models import Membership, Workspace
from apps.orders import selectors
from apps.orders.models import Order, Package, Seat


class PackageChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, package: Package) -> str:
        price = f"{package.price_amount / 100:.2f} {package.currency.upper()}"
        unit = " per person" if package.per_seat else ""
        return (
            f"{package.name} — {price}{unit}: {package.images_per_seat} portraits, "
            f"{package.styles_count} styles"
        )


class OrderForm(forms.Form):
    """Package, styles, seats and consent. Styles are checkboxes limited (here and in the
    service) to the package's styles_count; a team with locked styles does not choose."""

    package = PackageChoiceField(queryset=Package.objects.none(), widget=forms.RadioSelect)
    styles = forms.ModelMultipleChoiceField(
        queryset=None,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="Pick up to as many styles as your package includes.",
    )
    seats = forms.IntegerField(
        min_value=1,
        initial=1,
        required=False,
        label="People (team package)",
        help_text="Each person gets their own portraits; you pay once for everyone.",
    )
    consent = forms.BooleanField(
        required=False,  # the service refuses without it, with the message that explains why
        label="I am the person in the photos, or have the permission of each person in this "
        "order to learn their likeness from their photos",
    )

    def __init__(self, *args, workspace: Workspace, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.workspace = workspace
        self.fields["package"].queryset = selectors.packages_for_workspace(workspace)
        self.fields["styles"].queryset = selectors.styles_active()
        self.fields["seats"].max_value = settings.ORDER_MAX_SEATS
        self.locked_styles = selectors.team_styles(workspace)
        if workspace.kind != Workspace.Kind.TEAM:
            del self.fields["seats"]

    def clean(self):
        data = super().clean()
        package = data.get("package")
        styles = list(data.get("styles") or [])
        if package is not None and package.per_seat and self.locked_styles:
            data["styles"] = self.locked_styles
        elif package is not None and len(styles) > package.styles_count:
            self.add_error(
                "styles", f"{package.name} includes {package.styles_count} styles; choose fewer."
            )
        data["seats"] = data.get("seats") or 1
        return data


class SeatAssignForm(forms.Form):
    member = forms.ModelChoiceField(
        queryset=None, required=False, empty_label="— choose —", to_field_name="public_id"
    )
    email = forms.EmailField(required=False, label="or invite by email")

    def __init__(self, *args, order: Order, **kwargs) -> None:
        from apps.accounts.models import User

        super().__init__(*args, **kwargs)
        member_ids = Membership.objects.filter(workspace_id=order.workspace_id).values("user_id")
        self.fields["member"].queryset = User.objects.filter(pk__in=member_ids).order_by("email")
        self.fields["member"].label_from_instance = lambda user: user.display_name
        # Rendered inline on the order page, without visible labels.
        self.fields["member"].widget.attrs["aria-label"] = "Give this seat to a member"
        self.fields["email"].widget.attrs.update(
            {"aria-label": "or to an invited email address", "placeholder": "or invite by email"}
        )


class RerollForm(forms.Form):
    seat = forms.ModelChoiceField(queryset=None, to_field_name="public_id")
    style = forms.ModelChoiceField(queryset=None, to_field_name="slug")

    def __init__(self, *args, order: Order, seats: list[Seat], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["seat"].queryset = Seat.objects.for_workspace(order.workspace).filter(
            pk__in=[seat.pk for seat in seats]
        )
        self.fields["style"].queryset = order.styles.order_by("sort_order", "name")


class TeamStylesForm(forms.Form):
    styles = forms.ModelMultipleChoiceField(
        queryset=None, widget=forms.CheckboxSelectMultiple, label="Company styles"
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["styles"].queryset = selectors.styles_active()
        team = selectors.packages_active().filter(per_seat=True).order_by("-styles_count").first()
        self.limit = team.styles_count if team else None
        if self.limit:
            self.fields["styles"].help_text = f"Choose up to {self.limit}."

    def clean_styles(self):
        styles = self.cleaned_data["styles"]
        if self.limit and len(styles) > self.limit:
            raise forms.ValidationError(f"The team package includes {self.limit} styles.")
        return styles
