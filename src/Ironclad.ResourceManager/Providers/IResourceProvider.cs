// The contract between Resource Manager's HTTP edge and a resource provider (Microsoft.KeyVault
// today; Microsoft.Compute and Microsoft.ManagedIdentity later). The edge does what is common to
// every provider — routing, api-version, authentication, RBAC authorization of the action the
// provider names, resource-group existence, the activity log, the error envelope — and hands the
// provider a parsed request. Invariant: a provider never sees an unauthenticated or unauthorized
// request, and reports every failure as an ArmException (never a raw exception).
using System.Text.Json;
using System.Text.Json.Nodes;
using Ironclad.Identity;

namespace Ironclad.ResourceManager.Providers;

public interface IResourceProvider
{
    /// <summary>The namespace it serves, e.g. "Microsoft.KeyVault" (matched case-insensitively).</summary>
    string ProviderNamespace { get; }

    /// <summary>
    /// The RBAC action the request needs, e.g. "Microsoft.KeyVault/vaults/write",
    /// "Microsoft.KeyVault/vaults/accessPolicies/write", "Microsoft.KeyVault/locations/deletedVaults/purge/action";
    /// checked by the edge at <see cref="ProviderRequest.Scope"/> before <see cref="Handle"/>.
    /// Throws ArmException (404/400) for a path the provider does not serve.
    /// </summary>
    string RequiredAction(ProviderRequest request);

    /// <summary>Executes the request. Returns the status, the body and any headers; throws ArmException for failures.</summary>
    ProviderResult Handle(ProviderRequest request);

    /// <summary>
    /// Executes the request when the work does I/O (Microsoft.Compute calls vaults over HTTPS); the
    /// edge calls this one. The default runs <see cref="Handle"/>; an asynchronous provider overrides
    /// it and may make <see cref="Handle"/> throw.
    /// </summary>
    Task<ProviderResult> HandleAsync(ProviderRequest request, CancellationToken cancellationToken) =>
        Task.FromResult(Handle(request));

    /// <summary>
    /// The resources of <paramref name="resourceType"/> (e.g. "Microsoft.KeyVault/vaults") in a subscription,
    /// optionally one resource group, as their GET bodies — for the generic
    /// `/subscriptions/{sub}/resources?$filter=resourceType eq '...'` list and for resource-group listings.
    /// </summary>
    IReadOnlyList<JsonObject> List(Guid subscriptionId, string? resourceGroup, string resourceType);

    /// <summary>
    /// The resource types it lists (e.g. "Microsoft.KeyVault/vaults"), for the unfiltered generic
    /// `/resources` listing. Added after the first contract; the default lists none.
    /// </summary>
    IReadOnlyList<string> ResourceTypes => Array.Empty<string>();

    /// <summary>Removes (or, for soft-deletable types, soft-deletes) everything it holds in a resource group being deleted.</summary>
    void DeleteResourceGroupContents(Guid subscriptionId, string resourceGroup, CallerIdentity caller);
}

/// <summary>One request routed to a provider.</summary>
/// <param name="Method">GET, PUT, PATCH, DELETE or POST (upper case).</param>
/// <param name="SubscriptionId">From the path.</param>
/// <param name="ResourceGroup">The resource group's stored (canonical) name, or null for a subscription-level path.</param>
/// <param name="ProviderPath">
/// The segments after `/providers/{namespace}/`, as sent (case preserved), e.g. ["vaults", "v1"],
/// ["vaults", "v1", "accessPolicies", "add"], ["vaults"], ["locations", "eastus", "deletedVaults", "v1", "purge"], ["deletedVaults"].
/// </param>
/// <param name="Scope">The id the request acts on (the resource, or the collection's parent) — where RBAC is checked.</param>
/// <param name="Query">Query parameters (decoded), api-version included.</param>
/// <param name="Body">The JSON body, or null when there is none.</param>
/// <param name="Caller">The authenticated caller.</param>
/// <param name="ApiVersion">The api-version sent.</param>
/// <param name="BaseUri">This server's ARM base URL (https://127.0.0.1:P/), for absolute nextLink and Location URLs.</param>
public sealed record ProviderRequest(
    string Method,
    Guid SubscriptionId,
    string? ResourceGroup,
    IReadOnlyList<string> ProviderPath,
    string Scope,
    IReadOnlyDictionary<string, string> Query,
    JsonElement? Body,
    CallerIdentity Caller,
    string ApiVersion,
    Uri BaseUri);

/// <summary>What a provider answers: HTTP status, JSON body (null for none) and extra headers.</summary>
public sealed record ProviderResult(int StatusCode, JsonNode? Body, IReadOnlyDictionary<string, string>? Headers = null);

/// <summary>A failure in the ARM error envelope: {"error":{"code","message"}} with this status; the edge writes it.</summary>
public sealed class ArmException : Exception
{
    public ArmException()
    {
        Code = "InternalServerError";
    }

    public ArmException(string message)
        : base(message)
    {
        Code = "InternalServerError";
    }

    public ArmException(string message, Exception innerException)
        : base(message, innerException)
    {
        Code = "InternalServerError";
    }

    public ArmException(int statusCode, string code, string message)
        : base(message)
    {
        StatusCode = statusCode;
        Code = code;
    }

    public int StatusCode { get; } = 500;

    /// <summary>The ARM error code, e.g. ResourceNotFound, InvalidParameter, AuthorizationFailed, Conflict.</summary>
    public string Code { get; }
}
