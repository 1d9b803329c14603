"""API v1: sign-in lock-outs, for managers."""

from __future__ import annotations

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.lockouts import selectors, services
from portal.models import OrgRole


class LockoutSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["username", "ip_address"], help_text="What is locked: an account or an address.")
    value = serializers.CharField(help_text="The username or the IP address.")
    failures = serializers.IntegerField(help_text="Failed sign-ins within the lock-out period.")
    last_failure_at = serializers.DateTimeField()
    locked_until = serializers.DateTimeField(help_text="When the lock-out ends by itself.")


class ManagersOnly(APIView):
    read_role = OrgRole.MANAGER
    write_role = OrgRole.MANAGER


class LockoutListView(ManagersOnly):
    @extend_schema(operation_id="lockouts_list", summary="Accounts and addresses locked out now", responses={200: LockoutSerializer(many=True)})
    def get(self, request: Request) -> Response:
        return Response(LockoutSerializer(selectors.current_lockouts(), many=True).data)


class AccountLockoutView(ManagersOnly):
    @extend_schema(
        operation_id="lockouts_accounts_destroy",
        summary="Lift an account's lock-out",
        description="Forgets the account's failed sign-ins. Answers 204 whether or not it was locked.",
        responses={204: None},
    )
    def delete(self, request: Request, username: str) -> Response:
        services.lockout_lift(by=request.user, username=username)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AddressLockoutView(ManagersOnly):
    @extend_schema(
        operation_id="lockouts_addresses_destroy",
        summary="Lift an address's lock-out",
        description="Forgets the failed sign-ins from this IP address. Answers 204 whether or not it was locked.",
        responses={204: None},
    )
    def delete(self, request: Request, ip_address: str) -> Response:
        services.lockout_lift(by=request.user, ip_address=ip_address)
        return Response(status=status.HTTP_204_NO_CONTENT)


urlpatterns = [
    path("", LockoutListView.as_view(), name="lockout-list"),
    path("accounts/<str:username>/", AccountLockoutView.as_view(), name="lockout-account"),
    path("addresses/<str:ip_address>/", AddressLockoutView.as_view(), name="lockout-address"),
]
