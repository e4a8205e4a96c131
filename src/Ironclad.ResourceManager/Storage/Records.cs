// The rows Resource Manager persists: subscriptions, resource groups, role assignments and
// activity-log events. Plain records so a PostgreSQL store can implement IResourceManagerStore
// with the same shapes.
using System.Text.Json.Nodes;

namespace Ironclad.ResourceManager.Storage;

public sealed record Subscription(Guid SubscriptionId, Guid TenantId, string DisplayName, string State);

/// <summary>A resource group; <see cref="Name"/> keeps the casing it was created with.</summary>
public sealed record ResourceGroup(Guid SubscriptionId, string Name, string Location, IReadOnlyDictionary<string, string> Tags, string? ManagedBy);

/// <summary>A role assignment at <see cref="Scope"/> (canonical id string; "/" for the root).</summary>
public sealed record RoleAssignment(
    Guid Name,
    string Scope,
    Guid RoleDefinitionId,
    Guid PrincipalId,
    string PrincipalType,
    string? Description,
    DateTimeOffset CreatedOn,
    DateTimeOffset UpdatedOn,
    Guid? CreatedBy,
    Guid? UpdatedBy);

/// <summary>One write in the activity log.</summary>
/// <param name="EventId">Unique, stable id of the event.</param>
/// <param name="Timestamp">When the operation completed.</param>
/// <param name="CallerObjectId">The caller's `oid`, or null when unauthenticated.</param>
/// <param name="CallerAppId">The caller's `appid`, or null.</param>
/// <param name="OperationName">e.g. "Microsoft.Resources/subscriptions/resourceGroups/write".</param>
/// <param name="ResourceId">Canonical id the operation acted on.</param>
/// <param name="HttpMethod">PUT, PATCH, DELETE or POST.</param>
/// <param name="StatusCode">The HTTP status answered.</param>
/// <param name="Result">"Succeeded" or "Failed".</param>
/// <param name="CorrelationId">x-ms-client-request-id if sent, else the request id.</param>
/// <param name="ErrorCode">The error code for a failure, or null.</param>
public sealed record ActivityEvent(
    Guid EventId,
    DateTimeOffset Timestamp,
    Guid? SubscriptionId,
    Guid? CallerObjectId,
    Guid? CallerAppId,
    string OperationName,
    string ResourceId,
    string HttpMethod,
    int StatusCode,
    string Result,
    string CorrelationId,
    string? ErrorCode);

/// <summary>Which activity events to return (all conditions and-ed; null = any).</summary>
public sealed record ActivityQuery(
    DateTimeOffset? From = null,
    DateTimeOffset? To = null,
    Guid? SubscriptionId = null,
    string? ResourceIdPrefix = null,
    Guid? CallerObjectId = null,
    int Limit = 1000);

internal static class TagJson
{
    public static string Write(IReadOnlyDictionary<string, string> tags)
    {
        var json = new JsonObject();
        foreach (var (key, value) in tags)
        {
            json[key] = value;
        }

        return json.ToJsonString();
    }

    public static Dictionary<string, string> Read(string text)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        if (JsonNode.Parse(text) is JsonObject json)
        {
            foreach (var (key, value) in json)
            {
                result[key] = value?.GetValue<string>() ?? "";
            }
        }

        return result;
    }
}
