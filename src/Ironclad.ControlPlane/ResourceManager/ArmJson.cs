// The wire shapes of Resource Manager's own resources (api-compat §2.6): subscriptions, resource
// groups, role assignments, role definitions and activity-log events. Invariant: every `id` is the
// canonical resource id, and times are ISO 8601 UTC.
using System.Globalization;
using System.Text.Json.Nodes;
using Ironclad.ResourceManager.Ids;
using Ironclad.ResourceManager.Rbac;
using Ironclad.ResourceManager.Storage;

namespace Ironclad.ControlPlane.ResourceManager;

internal static class ArmJson
{
    public static string Time(DateTimeOffset value) =>
        value.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture);

    public static JsonObject Subscription(Subscription s) => new()
    {
        ["id"] = ResourceId.ForSubscription(s.SubscriptionId).ToString(),
        ["subscriptionId"] = s.SubscriptionId.ToString(),
        ["tenantId"] = s.TenantId.ToString(),
        ["displayName"] = s.DisplayName,
        ["state"] = s.State,
        ["subscriptionPolicies"] = new JsonObject
        {
            ["locationPlacementId"] = "Public_2014-09-01",
            ["quotaId"] = "Ironclad",
            ["spendingLimit"] = "Off",
        },
        ["authorizationSource"] = "RoleBased",
    };

    public static JsonObject ResourceGroup(ResourceGroup g)
    {
        var json = new JsonObject
        {
            ["id"] = ResourceId.ForResourceGroup(g.SubscriptionId, g.Name).ToString(),
            ["name"] = g.Name,
            ["type"] = "Microsoft.Resources/resourceGroups",
            ["location"] = g.Location,
            ["tags"] = Tags(g.Tags),
            ["properties"] = new JsonObject { ["provisioningState"] = "Succeeded" },
        };
        if (g.ManagedBy is not null)
        {
            json["managedBy"] = g.ManagedBy;
        }

        return json;
    }

    public static JsonObject Tags(IReadOnlyDictionary<string, string> tags)
    {
        var json = new JsonObject();
        foreach (var (key, value) in tags)
        {
            json[key] = value;
        }

        return json;
    }

    /// <summary>A role definition's id as seen from <paramref name="scope"/> (Azure answers subscription-relative ids).</summary>
    public static string RoleDefinitionId(ResourceId scope, Guid roleId)
    {
        var prefix = scope.SubscriptionId is { } sub ? ResourceId.ForSubscription(sub).ToString() : "";
        return $"{prefix}/providers/Microsoft.Authorization/roleDefinitions/{roleId}";
    }

    public static JsonObject RoleAssignment(RoleAssignment a)
    {
        var scope = ResourceId.Parse(a.Scope);
        var id = (scope.IsRoot ? "" : scope.ToString()) + "/providers/Microsoft.Authorization/roleAssignments/" + a.Name;
        return new JsonObject
        {
            ["id"] = id,
            ["name"] = a.Name.ToString(),
            ["type"] = "Microsoft.Authorization/roleAssignments",
            ["properties"] = new JsonObject
            {
                ["roleDefinitionId"] = RoleDefinitionId(scope, a.RoleDefinitionId),
                ["principalId"] = a.PrincipalId.ToString(),
                ["principalType"] = a.PrincipalType,
                ["scope"] = scope.ToString(),
                ["description"] = a.Description,
                ["condition"] = null,
                ["conditionVersion"] = null,
                ["createdOn"] = Time(a.CreatedOn),
                ["updatedOn"] = Time(a.UpdatedOn),
                ["createdBy"] = a.CreatedBy?.ToString(),
                ["updatedBy"] = a.UpdatedBy?.ToString(),
            },
        };
    }

    public static JsonObject RoleDefinition(ResourceId scope, RoleDefinition r) => new()
    {
        ["id"] = RoleDefinitionId(scope, r.Id),
        ["name"] = r.Id.ToString(),
        ["type"] = "Microsoft.Authorization/roleDefinitions",
        ["properties"] = new JsonObject
        {
            ["roleName"] = r.RoleName,
            ["type"] = r.Type,
            ["description"] = r.Description,
            ["assignableScopes"] = Strings(r.AssignableScopes),
            ["permissions"] = new JsonArray([.. r.Permissions.Select(p => (JsonNode)new JsonObject
            {
                ["actions"] = Strings(p.Actions),
                ["notActions"] = Strings(p.NotActions),
                ["dataActions"] = Strings(p.DataActions),
                ["notDataActions"] = Strings(p.NotDataActions),
            })]),
        },
    };

    /// <summary>An activity-log event in the Azure Monitor "eventtypes/management/values" shape.</summary>
    public static JsonObject Activity(ActivityEvent e)
    {
        var operationId = e.EventId.ToString();
        return new JsonObject
        {
            ["id"] = $"{e.ResourceId}/events/{e.EventId}/ticks/{e.Timestamp.UtcTicks}",
            ["eventDataId"] = e.EventId.ToString(),
            ["correlationId"] = e.CorrelationId,
            ["operationId"] = operationId,
            ["caller"] = e.CallerObjectId?.ToString(),
            ["claims"] = new JsonObject
            {
                ["oid"] = e.CallerObjectId?.ToString(),
                ["appid"] = e.CallerAppId?.ToString(),
            },
            ["category"] = new JsonObject { ["value"] = "Administrative", ["localizedValue"] = "Administrative" },
            ["level"] = e.Result == "Succeeded" ? "Informational" : "Error",
            ["operationName"] = new JsonObject { ["value"] = e.OperationName, ["localizedValue"] = e.OperationName },
            ["resourceId"] = e.ResourceId,
            ["resourceGroupName"] = ResourceId.TryParse(e.ResourceId, out var rid) ? rid.ResourceGroup : null,
            ["resourceProviderName"] = new JsonObject
            {
                ["value"] = ResourceId.TryParse(e.ResourceId, out var pid) ? pid.ResourceType.Split('/')[0] : null,
            },
            ["status"] = new JsonObject { ["value"] = e.Result, ["localizedValue"] = e.Result },
            ["subStatus"] = new JsonObject
            {
                ["value"] = e.StatusCode.ToString(CultureInfo.InvariantCulture),
                ["localizedValue"] = e.StatusCode.ToString(CultureInfo.InvariantCulture),
            },
            ["httpRequest"] = new JsonObject { ["method"] = e.HttpMethod, ["clientRequestId"] = e.CorrelationId },
            ["properties"] = new JsonObject
            {
                ["statusCode"] = e.StatusCode.ToString(CultureInfo.InvariantCulture),
                ["errorCode"] = e.ErrorCode,
            },
            ["eventTimestamp"] = Time(e.Timestamp),
            ["submissionTimestamp"] = Time(e.Timestamp),
            ["subscriptionId"] = e.SubscriptionId?.ToString(),
            ["tenantId"] = null,
        };
    }

    private static JsonArray Strings(IEnumerable<string> values) => new([.. values.Select(v => (JsonNode)JsonValue.Create(v))]);
}
