// Directory management over HTTPS, for `ironclad ad sp`: list, create, show and delete service
// principals and add/remove their client secrets, under /{tenant}/ironclad/servicePrincipals, and
// create further tenants (POST /{tenant}/ironclad/tenants) (an
// Ironclad path: Entra ID does this through Microsoft Graph, which we do not emulate). Shapes borrow
// Graph's names (appId, passwordCredentials, secretText, hint, endDateTime). Invariants: only the
// tenant's directory administrator (the bootstrap administrator), with a management-audience token
// of that tenant, gets past Authorize; a secret's text appears once, in the response that created it;
// the administrator cannot delete itself; managed identities are listed but not managed here.
using System.Text.Json;
using System.Text.Json.Serialization;
using Ironclad.ControlPlane.Authentication;
using Ironclad.ControlPlane.Errors;
using Ironclad.Identity;
using Ironclad.Identity.Store;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;

namespace Ironclad.ControlPlane.Identity;

public static class ServicePrincipalEndpoints
{
    public const string BasePath = "/{tenant}/ironclad/servicePrincipals";

    /// <summary>The audiences a management caller's token may carry (plus this server's own origin).</summary>
    private static readonly string[] ManagementAudiences = ["https://management.azure.com", "https://management.core.windows.net"];

    public static IEndpointRouteBuilder MapServicePrincipals(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        endpoints.MapGet(BasePath, List);
        endpoints.MapPost(BasePath, CreateAsync);
        endpoints.MapGet(BasePath + "/{id}", Show);
        endpoints.MapDelete(BasePath + "/{id}", Delete);
        endpoints.MapPost(BasePath + "/{id}/passwordCredentials", AddSecretAsync);
        endpoints.MapDelete(BasePath + "/{id}/passwordCredentials/{keyId}", RemoveSecret);
        endpoints.MapPost("/{tenant}/ironclad/tenants", CreateTenantAsync);
        return endpoints;
    }

    /// <summary>
    /// A new tenant with its own administrator (a service principal with a secret, its directory
    /// administrator): for multi-tenant setups and for tests of cross-tenant refusals.
    /// </summary>
    private static async Task<IResult> CreateTenantAsync(string tenant, HttpContext context, [FromServices] IdentityProvider identity)
    {
        if (Authorize(context, tenant, identity, out _) is { } refused)
        {
            return refused;
        }

        var (request, invalid) = await ReadBodyAsync(context, DirectoryJsonContext.Default.CreateServicePrincipalRequest);
        if (invalid is not null)
        {
            return invalid;
        }

        var displayName = request?.DisplayName is { Length: > 0 and <= 120 } name && !name.Any(char.IsControl) ? name : "Ironclad tenant";
        var created = identity.CreateTenant(displayName);
        var administrator = identity.CreateServicePrincipal(created.TenantId, "ironclad-administrator");
        var (record, secret) = identity.AddSecret(administrator.ObjectId, "bootstrap", request?.EndDateTime);
        identity.SetDirectoryAdministrator(created.TenantId, administrator.ObjectId);
        var document = ToDocument(administrator, identity, includeSecrets: false) with { PasswordCredentials = [ToCredential(record, secret)] };
        return Results.Json(new TenantDocument(created.TenantId.ToString("D"), created.DisplayName, document),
            DirectoryJsonContext.Default.TenantDocument, statusCode: StatusCodes.Status201Created);
    }

    private static IResult List(string tenant, HttpContext context, [FromServices] IdentityProvider identity)
    {
        if (Authorize(context, tenant, identity, out var tenantId) is { } refused)
        {
            return refused;
        }

        var value = identity.ListPrincipals(tenantId).Select(p => ToDocument(p, identity, includeSecrets: false)).ToArray();
        return Results.Json(new ServicePrincipalList(value), DirectoryJsonContext.Default.ServicePrincipalList);
    }

    private static async Task<IResult> CreateAsync(string tenant, HttpContext context, [FromServices] IdentityProvider identity)
    {
        if (Authorize(context, tenant, identity, out var tenantId) is { } refused)
        {
            return refused;
        }

        var (request, invalid) = await ReadBodyAsync(context, DirectoryJsonContext.Default.CreateServicePrincipalRequest);
        if (invalid is not null)
        {
            return invalid;
        }

        var displayName = request?.DisplayName is { Length: > 0 } name ? name : $"ironclad-sp-{Guid.NewGuid():N}"[..20];
        if (displayName.Length > 120 || displayName.Any(char.IsControl))
        {
            return BadRequest("displayName must be 1..120 printable characters.");
        }

        var principal = identity.CreateServicePrincipal(tenantId, displayName);
        var (record, secret) = identity.AddSecret(principal.ObjectId, request?.SecretDisplayName ?? "default", request?.EndDateTime);
        var document = ToDocument(principal, identity, includeSecrets: false) with { PasswordCredentials = [ToCredential(record, secret)] };
        return Results.Json(document, DirectoryJsonContext.Default.ServicePrincipalDocument, statusCode: StatusCodes.Status201Created);
    }

    private static IResult Show(string tenant, string id, HttpContext context, [FromServices] IdentityProvider identity)
    {
        if (Authorize(context, tenant, identity, out var tenantId) is { } refused)
        {
            return refused;
        }

        return Find(identity, tenantId, id) is { } principal
            ? Results.Json(ToDocument(principal, identity, includeSecrets: true), DirectoryJsonContext.Default.ServicePrincipalDocument)
            : NotFound(id);
    }

    private static IResult Delete(string tenant, string id, HttpContext context, [FromServices] IdentityProvider identity)
    {
        if (Authorize(context, tenant, identity, out var tenantId) is { } refused)
        {
            return refused;
        }

        if (Find(identity, tenantId, id) is not { } principal)
        {
            return NotFound(id);
        }

        if (principal.IsManagedIdentity)
        {
            return new AzureError(StatusCodes.Status409Conflict, "ManagedIdentityNotDeletable",
                "A managed identity is deleted with the resource that owns it.");
        }

        if (identity.IsDirectoryAdministrator(tenantId, principal.ObjectId))
        {
            return new AzureError(StatusCodes.Status409Conflict, "AdministratorNotDeletable",
                "The directory administrator cannot be deleted.");
        }

        identity.DeleteServicePrincipal(principal.ObjectId);
        return Results.NoContent();
    }

    private static async Task<IResult> AddSecretAsync(string tenant, string id, HttpContext context, [FromServices] IdentityProvider identity)
    {
        if (Authorize(context, tenant, identity, out var tenantId) is { } refused)
        {
            return refused;
        }

        if (Find(identity, tenantId, id) is not { } principal)
        {
            return NotFound(id);
        }

        if (principal.IsManagedIdentity)
        {
            return BadRequest("A managed identity has no client secrets.");
        }

        var (request, invalid) = await ReadBodyAsync(context, DirectoryJsonContext.Default.AddPasswordCredentialRequest);
        if (invalid is not null)
        {
            return invalid;
        }

        var (record, secret) = identity.AddSecret(principal.ObjectId, request?.DisplayName ?? "secret", request?.EndDateTime);
        // `credential reset` (append=false, the default of `az ad sp credential reset`): the new secret replaces all others.
        if (request?.Append != true)
        {
            foreach (var old in identity.ListSecrets(principal.ObjectId).Where(s => s.KeyId != record.KeyId))
            {
                identity.RemoveSecret(principal.ObjectId, old.KeyId);
            }
        }

        return Results.Json(ToCredential(record, secret), DirectoryJsonContext.Default.PasswordCredentialDocument, statusCode: StatusCodes.Status201Created);
    }

    private static IResult RemoveSecret(string tenant, string id, string keyId, HttpContext context, [FromServices] IdentityProvider identity)
    {
        if (Authorize(context, tenant, identity, out var tenantId) is { } refused)
        {
            return refused;
        }

        if (Find(identity, tenantId, id) is not { } principal)
        {
            return NotFound(id);
        }

        return Guid.TryParse(keyId, out var key) && identity.RemoveSecret(principal.ObjectId, key)
            ? Results.NoContent()
            : new AzureError(StatusCodes.Status404NotFound, "PasswordCredentialNotFound", $"Service principal '{principal.AppId}' has no password credential '{Safe(keyId)}'.");
    }

    /// <summary>Null when the caller is the tenant's directory administrator with a management token; otherwise the refusal.</summary>
    private static AzureError? Authorize(HttpContext context, string tenant, IdentityProvider identity, out Guid tenantId)
    {
        if (!Guid.TryParse(tenant, out tenantId) || identity.FindTenant(tenantId) is null)
        {
            return new AzureError(StatusCodes.Status404NotFound, "TenantNotFound", $"Tenant '{Safe(tenant)}' not found.");
        }

        if (context.GetTokenFailure() is { } failure)
        {
            return Unauthorized(context, tenantId, failure.Code, failure.Message);
        }

        if (context.GetCaller() is not { } caller)
        {
            return Unauthorized(context, tenantId, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.");
        }

        var ownOrigin = $"{context.Request.Scheme}://{context.Request.Host}";
        var audience = caller.Audience.TrimEnd('/');
        if (!ManagementAudiences.Contains(audience, StringComparer.OrdinalIgnoreCase) && !string.Equals(audience, ownOrigin, StringComparison.OrdinalIgnoreCase))
        {
            return Unauthorized(context, tenantId, IdentityEndpoints.InvalidAuthenticationToken, "The access token has an audience this endpoint does not accept.");
        }

        if (caller.TenantId != tenantId)
        {
            return Unauthorized(context, tenantId, IdentityEndpoints.InvalidAuthenticationTokenTenant,
                $"The access token is from tenant '{caller.TenantId}', not '{tenantId}'.");
        }

        return identity.IsDirectoryAdministrator(tenantId, caller.ObjectId)
            ? null
            : new AzureError(StatusCodes.Status403Forbidden, "AuthorizationFailed",
                $"The client '{caller.AppId}' with object id '{caller.ObjectId}' is not the directory administrator of tenant '{tenantId}' and cannot manage service principals.");
    }

    private static AzureError Unauthorized(HttpContext context, Guid tenantId, string code, string message)
    {
        var authority = $"{context.Request.Scheme}://{context.Request.Host}/{tenantId:D}";
        context.Response.Headers.WWWAuthenticate = $"Bearer authorization_uri=\"{authority}\", error=\"invalid_token\"";
        return new AzureError(StatusCodes.Status401Unauthorized, code, message);
    }

    private static ServicePrincipal? Find(IdentityProvider identity, Guid tenantId, string id)
    {
        if (!Guid.TryParse(id, out var guid))
        {
            return null;
        }

        var principal = identity.FindPrincipal(guid) ?? identity.FindPrincipalByAppId(guid);
        return principal?.TenantId == tenantId ? principal : null;
    }

    private static async Task<(T? Value, IResult? Invalid)> ReadBodyAsync<T>(HttpContext context, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type)
        where T : class
    {
        if (context.Request.ContentLength is 0 || (context.Request.ContentLength is null && !context.Request.Headers.ContainsKey("Transfer-Encoding")))
        {
            return (null, null);
        }

        try
        {
            return (await JsonSerializer.DeserializeAsync(context.Request.Body, type, context.RequestAborted), null);
        }
        catch (JsonException)
        {
            return (null, BadRequest("The request body is not valid JSON for this operation."));
        }
    }

    private static ServicePrincipalDocument ToDocument(ServicePrincipal principal, IdentityProvider identity, bool includeSecrets) => new(
        principal.ObjectId.ToString("D"), principal.AppId.ToString("D"), principal.DisplayName,
        principal.IsManagedIdentity ? "ManagedIdentity" : "Application",
        principal.Kind switch { PrincipalKind.SystemAssigned => "SystemAssigned", PrincipalKind.UserAssigned => "UserAssigned", _ => null },
        principal.ResourceId, principal.CreatedOn,
        identity.IsDirectoryAdministrator(principal.TenantId, principal.ObjectId),
        includeSecrets ? [.. identity.ListSecrets(principal.ObjectId).Select(s => ToCredential(s, null))] : null);

    private static PasswordCredentialDocument ToCredential(ClientSecretRecord record, string? secretText) =>
        new(record.KeyId.ToString("D"), record.DisplayName, record.Hint, record.CreatedOn, record.ExpiresOn, secretText);

    private static AzureError NotFound(string id) =>
        new(StatusCodes.Status404NotFound, "ServicePrincipalNotFound", $"No service principal has object id or app id '{Safe(id)}' in this tenant.");

    private static AzureError BadRequest(string message) => new(StatusCodes.Status400BadRequest, "InvalidRequestContent", message);

    private static string Safe(string value) => new([.. value.Where(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '.').Take(64)]);
}

internal sealed record ServicePrincipalDocument(
    string Id, string AppId, string DisplayName, string ServicePrincipalType, string? ManagedIdentityType, string? ResourceId,
    DateTimeOffset CreatedDateTime, bool IsDirectoryAdministrator, PasswordCredentialDocument[]? PasswordCredentials);

internal sealed record PasswordCredentialDocument(string KeyId, string DisplayName, string Hint, DateTimeOffset StartDateTime, DateTimeOffset EndDateTime, string? SecretText);

internal sealed record TenantDocument(string TenantId, string DisplayName, ServicePrincipalDocument Administrator);

internal sealed record ServicePrincipalList(ServicePrincipalDocument[] Value);

internal sealed record CreateServicePrincipalRequest(string? DisplayName, string? SecretDisplayName, DateTimeOffset? EndDateTime);

/// <param name="Append">False (default): the new secret replaces the others (`credential reset`); true: added beside them.</param>
internal sealed record AddPasswordCredentialRequest(string? DisplayName, DateTimeOffset? EndDateTime, bool? Append);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ServicePrincipalDocument))]
[JsonSerializable(typeof(ServicePrincipalList))]
[JsonSerializable(typeof(TenantDocument))]
[JsonSerializable(typeof(PasswordCredentialDocument))]
[JsonSerializable(typeof(CreateServicePrincipalRequest))]
[JsonSerializable(typeof(AddPasswordCredentialRequest))]
internal sealed partial class DirectoryJsonContext : JsonSerializerContext;
