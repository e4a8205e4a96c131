// Who may call a vault's data plane, decided on every request: role assignments are read afresh each
// time and access policies come from VaultLookup, which drops its cache on every vault event, so a
// removed access policy entry or role assignment takes effect on the next call. Authentication: a bearer token for
// audience https://vault.azure.net from the vault's tenant, else 401 with the challenge the SDKs parse
// (api-compat.md §1.2). Authorization: the vault's access policies (tenant + object id, and the
// application id of a compound entry) or, with enableRbacAuthorization, the RBAC data action at the
// key's scope (which includes the vault's and every ancestor's assignments).
using Ironclad.ControlPlane.Authentication;
using Ironclad.Identity;
using Ironclad.KeyVault;
using Ironclad.ResourceManager.Ids;
using Ironclad.ResourceManager.KeyVault;
using Ironclad.ResourceManager.Rbac;
using Microsoft.AspNetCore.Http;

namespace Ironclad.ControlPlane.KeyVault;

internal sealed class KeyVaultAccess(Authorizer authorizer, IdentityOptions identity)
{
    /// <summary>The audience (and challenge resource) of the keys data plane.</summary>
    public const string Resource = "https://vault.azure.net";

    public const string MissingTokenMessage = "AKV10000: Request is missing a Bearer or PoP token.";

    private const string AllPermissions = "all";

    /// <summary>The WWW-Authenticate value: the token endpoint of the vault's tenant on this server, and the resource.</summary>
    public string Challenge(VaultRecord vault) =>
        $"Bearer authorization=\"{identity.AuthorityHost}/{vault.TenantId:D}\", resource=\"{Resource}\"";

    /// <summary>The caller, or the 401 to answer (the edge adds the challenge header).</summary>
    public CallerIdentity Authenticate(HttpContext context, VaultRecord vault)
    {
        if (context.GetTokenFailure() is { } failure)
        {
            throw Unauthorized($"AKV10001: The bearer token was refused: {failure.Message}");
        }

        if (context.GetCaller() is not { } caller)
        {
            throw Unauthorized(MissingTokenMessage);
        }

        if (!caller.Audience.Equals(Resource, StringComparison.OrdinalIgnoreCase))
        {
            throw Unauthorized($"AKV10022: Invalid audience. Expected {Resource}, found: {caller.Audience}.");
        }

        if (caller.TenantId != vault.TenantId)
        {
            throw Unauthorized($"AKV10032: Invalid issuer. Expected one of {identity.IssuerFor(vault.TenantId)}, found: {identity.IssuerFor(caller.TenantId)}.");
        }

        return caller;
    }

    /// <summary>Throws 403 unless the caller may run <paramref name="operation"/> (on key <paramref name="keyName"/>, if any).</summary>
    public void Authorize(CallerIdentity caller, VaultSnapshot snapshot, KeyVaultOperation operation, string? keyName)
    {
        var vault = snapshot.Vault;
        if (vault.EnableRbacAuthorization)
        {
            var vaultScope = ResourceId.Parse(vault.Id);
            var scope = keyName is null ? vaultScope : vaultScope.Append("keys", keyName);
            if (!authorizer.IsDataActionAllowed(caller.ObjectId, operation.DataAction, scope))
            {
                throw KeyVaultException.Forbidden(
                    $"Caller is not authorized to perform action on resource. If role assignments, deny assignments or role definitions were changed recently, please observe propagation time. Caller: {CallerText(caller)} Action: '{operation.DataAction}' Resource: '{scope.ToString().ToLowerInvariant()}' Assignment: (not found) DecisionReason: 'DeniedWithNoValidRBAC' Vault: {vault.Name};location={vault.Location}",
                    KeyVaultErrorCodes.ForbiddenByRbac);
            }

            return;
        }

        if (!HasPermission(caller, snapshot.AccessPolicies, operation.Permission))
        {
            throw KeyVaultException.Forbidden(
                $"The user, group or application '{CallerText(caller)}' does not have keys {operation.Permission} permission on key vault '{vault.Name};location={vault.Location}'. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125287",
                KeyVaultErrorCodes.AccessDenied);
        }
    }

    private static bool HasPermission(CallerIdentity caller, IReadOnlyList<VaultAccessPolicy> accessPolicies, string permission)
    {
        foreach (var entry in accessPolicies)
        {
            if (entry.TenantId == caller.TenantId
                && Guid.TryParse(entry.ObjectId, out var objectId) && objectId == caller.ObjectId
                && (entry.ApplicationId is null || entry.ApplicationId == caller.AppId)
                && (entry.Keys.Contains(permission) || entry.Keys.Contains(AllPermissions)))
            {
                return true;
            }
        }

        return false;
    }

    private string CallerText(CallerIdentity caller) => $"appid={caller.AppId:D};oid={caller.ObjectId:D};iss={identity.IssuerFor(caller.TenantId)}";

    private static KeyVaultException Unauthorized(string message) => new(401, KeyVaultErrorCodes.Unauthorized, message);
}
