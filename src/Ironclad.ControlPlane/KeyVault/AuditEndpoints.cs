// The Key Vault audit log's read API on the management port (an Ironclad extension, not in Azure):
//   GET  /subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.KeyVault/vaults/{name}/auditRecords
//        ?api-version=&$top=&$skiptoken=&since=&until=          → {"value":[record…],"nextLink"}
//   POST /subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.KeyVault/vaults/{name}/verifyAuditLog
//        ?api-version=                                          → {"valid","records","firstBrokenSequence","problem"}
// These literal routes outrank the ARM catch-all (/subscriptions/{**rest}). Invariant: like every ARM
// call, nothing is read before the bearer token (ARM audience, subscription's tenant) is accepted and
// Microsoft.KeyVault/vaults/read is allowed on the vault; failures leave in the ARM envelope.
using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Ironclad.ControlPlane.Authentication;
using Ironclad.ControlPlane.Errors;
using Ironclad.Identity;
using Ironclad.KeyVault.Audit;
using Ironclad.ResourceManager;
using Ironclad.ResourceManager.Groups;
using Ironclad.ResourceManager.Ids;
using Ironclad.ResourceManager.KeyVault;
using Ironclad.ResourceManager.Rbac;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Ironclad.ControlPlane.KeyVault;

public static partial class AuditEndpoints
{
    public const string ReadAction = "Microsoft.KeyVault/vaults/read";

    /// <summary>Records per page when $top is absent; $top may ask for up to <see cref="TopMax"/>.</summary>
    public const int DefaultTop = 100;

    public const int TopMax = 1000;

    private const string VaultPath = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.KeyVault/vaults/{vaultName}";

    public static IEndpointRouteBuilder MapKeyVaultAudit(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        endpoints.MapGet(VaultPath + "/auditRecords", ListAsync);
        endpoints.MapPost(VaultPath + "/verifyAuditLog", VerifyAsync);
        return endpoints;
    }

    private static async Task ListAsync(HttpContext http, string subscriptionId, string resourceGroupName, string vaultName)
    {
        if (await AuthorizeAsync(http, subscriptionId, resourceGroupName, vaultName) is not { } vault)
        {
            return;
        }

        var query = http.Request.Query;
        var top = DefaultTop;
        if (query.TryGetValue("$top", out var topText)
            && (!int.TryParse(topText, NumberStyles.None, CultureInfo.InvariantCulture, out top) || top < 1 || top > TopMax))
        {
            await FailAsync(http, 400, "InvalidTop", $"$top must be an integer from 1 to {TopMax}.");
            return;
        }

        long after = 0;
        if (query.TryGetValue("$skiptoken", out var token)
            && (!long.TryParse(token, NumberStyles.None, CultureInfo.InvariantCulture, out after) || after < 0))
        {
            await FailAsync(http, 400, "InvalidSkipToken", "The $skiptoken is not valid.");
            return;
        }

        if (!TryTime(query, "since", out var since) || !TryTime(query, "until", out var until))
        {
            await FailAsync(http, 400, "InvalidParameter", "since and until must be ISO 8601 date-times, e.g. 2026-11-29T12:00:00Z.");
            return;
        }

        var audit = http.RequestServices.GetRequiredService<IKeyVaultAudit>();
        // One more than a page tells whether a next page exists.
        var records = audit.List(new AuditQuery(vault.Name, since, until, after, top + 1));
        var value = new JsonArray();
        foreach (var record in records.Take(top))
        {
            value.Add(ToJson(record));
        }

        var page = new JsonObject { ["value"] = value };
        if (records.Count > top)
        {
            var parameters = query.Where(p => p.Key != "$skiptoken")
                .Select(p => p.Key + "=" + Uri.EscapeDataString(p.Value.ToString()))
                .Append("$skiptoken=" + records[top - 1].Sequence.ToString(CultureInfo.InvariantCulture));
            page["nextLink"] = new UriBuilder(http.Request.Scheme, http.Request.Host.Host, http.Request.Host.Port ?? -1, http.Request.Path.Value)
            {
                Query = string.Join('&', parameters),
            }.Uri.AbsoluteUri;
        }

        await WriteJsonAsync(http, page);
    }

    private static async Task VerifyAsync(HttpContext http, string subscriptionId, string resourceGroupName, string vaultName)
    {
        if (await AuthorizeAsync(http, subscriptionId, resourceGroupName, vaultName) is null)
        {
            return;
        }

        var result = http.RequestServices.GetRequiredService<IKeyVaultAudit>().Verify();
        await WriteJsonAsync(http, new JsonObject
        {
            ["valid"] = result.Valid,
            ["records"] = result.Records,
            ["firstBrokenSequence"] = result.FirstBrokenSequence,
            ["problem"] = result.Problem,
        });
    }

    /// <summary>The ARM checks in ArmEdge's order: token, api-version, subscription and group, tenant, RBAC, then the vault itself.</summary>
    private static async Task<VaultRecord?> AuthorizeAsync(HttpContext http, string subscriptionId, string resourceGroupName, string vaultName)
    {
        var requestId = Guid.NewGuid().ToString();
        http.Response.Headers["x-ms-request-id"] = requestId;
        http.Response.Headers["x-ms-correlation-request-id"] = requestId;
        var services = http.RequestServices;
        var groups = services.GetRequiredService<ResourceGroupService>();
        var caller = http.GetCaller();
        if (caller is null)
        {
            var failure = http.GetTokenFailure();
            await UnauthorizedAsync(http, failure?.Code ?? "AuthenticationFailed",
                failure?.Message ?? "Authentication failed. The 'Authorization' header is missing.");
            return null;
        }

        if (!IsManagementAudience(http, caller, services.GetRequiredService<ResourceManagerOptions>()))
        {
            await UnauthorizedAsync(http, "InvalidAuthenticationToken", "The access token is invalid: its audience is not accepted by Resource Manager.");
            return null;
        }

        var apiVersion = http.Request.Query["api-version"].ToString();
        if (apiVersion.Length == 0)
        {
            await FailAsync(http, 400, "MissingApiVersionParameter", "The api-version query parameter (?api-version=) is required for all requests.");
            return null;
        }

        if (!ApiVersionPattern().IsMatch(apiVersion))
        {
            await FailAsync(http, 400, "InvalidApiVersionParameter",
                $"The api-version '{apiVersion}' is invalid. The supported versions are of the form 'yyyy-MM-dd' or 'yyyy-MM-dd-preview'.");
            return null;
        }

        if (!Guid.TryParse(subscriptionId, out var sub))
        {
            await FailAsync(http, 400, "InvalidSubscriptionId", $"The provided subscription identifier '{subscriptionId}' is malformed or invalid.");
            return null;
        }

        if (groups.FindSubscription(sub) is not { } subscription)
        {
            await FailAsync(http, 404, "SubscriptionNotFound", $"The subscription '{subscriptionId}' could not be found.");
            return null;
        }

        if (subscription.TenantId != caller.TenantId)
        {
            await UnauthorizedAsync(http, "InvalidAuthenticationTokenTenant",
                $"The access token is from the wrong issuer. It must match the tenant '{subscription.TenantId}' associated with this subscription.");
            return null;
        }

        if (groups.Get(sub, resourceGroupName) is not { } group)
        {
            await FailAsync(http, 404, "ResourceGroupNotFound", $"Resource group '{resourceGroupName}' could not be found.");
            return null;
        }

        var scope = ResourceId.Parse(VaultIds.VaultId(sub, group.Name, vaultName));
        if (!services.GetRequiredService<Authorizer>().IsActionAllowed(caller.ObjectId, ReadAction, scope))
        {
            await FailAsync(http, 403, "AuthorizationFailed",
                $"The client '{caller.ObjectId}' with object id '{caller.ObjectId}' does not have authorization to perform action '{ReadAction}' over scope '{scope}' or the scope is invalid. If access was recently granted, please refresh your credentials.");
            return null;
        }

        var vault = services.GetRequiredService<IVaultDirectory>().FindByName(vaultName);
        if (vault is null || vault.IsDeleted || vault.SubscriptionId != sub
            || !string.Equals(vault.ResourceGroup, group.Name, StringComparison.OrdinalIgnoreCase))
        {
            await FailAsync(http, 404, "ResourceNotFound",
                $"The Resource 'Microsoft.KeyVault/vaults/{vaultName}' under resource group '{resourceGroupName}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix");
            return null;
        }

        return vault;
    }

    private static bool IsManagementAudience(HttpContext http, CallerIdentity caller, ResourceManagerOptions options)
    {
        var audience = caller.Audience.TrimEnd('/');
        var self = $"{http.Request.Scheme}://{http.Request.Host}";
        return audience.Equals(self, StringComparison.OrdinalIgnoreCase)
            || options.Audiences.Any(a => a.TrimEnd('/').Equals(audience, StringComparison.OrdinalIgnoreCase));
    }

    private static bool TryTime(IQueryCollection query, string name, out DateTimeOffset? value)
    {
        value = null;
        if (!query.TryGetValue(name, out var text))
        {
            return true;
        }

        if (!DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var parsed))
        {
            return false;
        }

        value = parsed;
        return true;
    }

    /// <summary>The record as stored (same property names as the audit.log line).</summary>
    public static JsonObject ToJson(AuditRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        var entry = record.Entry;
        return new JsonObject
        {
            ["sequence"] = record.Sequence,
            ["time"] = record.Time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture),
            ["tenantId"] = entry.TenantId?.ToString(),
            ["callerObjectId"] = entry.CallerObjectId?.ToString(),
            ["callerAppId"] = entry.CallerAppId?.ToString(),
            ["vault"] = entry.Vault,
            ["operation"] = entry.Operation,
            ["keyName"] = entry.KeyName,
            ["keyVersion"] = entry.KeyVersion,
            ["status"] = entry.Status,
            ["result"] = entry.Result,
            ["clientAddress"] = entry.ClientAddress,
            ["previousHash"] = record.PreviousHash,
            ["hash"] = record.Hash,
        };
    }

    private static async Task WriteJsonAsync(HttpContext http, JsonObject body)
    {
        http.Response.StatusCode = 200;
        http.Response.ContentType = "application/json; charset=utf-8";
        await http.Response.WriteAsync(body.ToJsonString(), http.RequestAborted);
    }

    private static Task FailAsync(HttpContext http, int status, string code, string message) =>
        new AzureError(status, code, message).ExecuteAsync(http);

    private static Task UnauthorizedAsync(HttpContext http, string code, string message)
    {
        var safe = message.Replace("\"", "'", StringComparison.Ordinal);
        http.Response.Headers.WWWAuthenticate =
            $"Bearer authorization_uri=\"{http.Request.Scheme}://{http.Request.Host}/organizations/oauth2/authorize\", error=\"invalid_token\", error_description=\"{safe}\"";
        return FailAsync(http, 401, code, message);
    }

    [GeneratedRegex(@"^\d{4}-\d{2}-\d{2}(-preview)?$", RegexOptions.CultureInvariant)]
    private static partial Regex ApiVersionPattern();
}
