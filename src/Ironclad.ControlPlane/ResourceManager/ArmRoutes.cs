// Resource Manager's route table: which handler serves a normalized path and method, with the RBAC
// action and scope to check first. Built-in: subscriptions, resource groups, the generic resource
// list, role assignments and role definitions at any scope (extension resources), the activity log.
// Everything else under /providers/{namespace}/ goes to the IResourceProvider for that namespace.
// Invariant: handlers only run after the edge authorized `Action` at `Scope`; handlers whose
// Action is null filter their results per item instead.
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Ironclad.ResourceManager;
using Ironclad.ResourceManager.ActivityLog;
using Ironclad.ResourceManager.Groups;
using Ironclad.ResourceManager.Ids;
using Ironclad.ResourceManager.Providers;
using Ironclad.ResourceManager.Rbac;
using Ironclad.ResourceManager.Storage;

namespace Ironclad.ControlPlane.ResourceManager;

internal sealed class ArmRoutes
{
    private const string GroupsRead = "Microsoft.Resources/subscriptions/resourceGroups/read";
    private const string GroupsWrite = "Microsoft.Resources/subscriptions/resourceGroups/write";
    private const string GroupsDelete = "Microsoft.Resources/subscriptions/resourceGroups/delete";

    private readonly ResourceGroupService _groups;
    private readonly RoleAssignmentService _assignments;
    private readonly RoleDefinitions _roles;
    private readonly ActivityLogService _activity;
    private readonly ProviderRegistry _providers;
    private readonly Authorizer _authorizer;
    private readonly ResourceManagerOptions _options;

    public ArmRoutes(ResourceGroupService groups, RoleAssignmentService assignments, RoleDefinitions roles, ActivityLogService activity,
        ProviderRegistry providers, Authorizer authorizer, ResourceManagerOptions options)
    {
        _groups = groups;
        _assignments = assignments;
        _roles = roles;
        _activity = activity;
        _providers = providers;
        _authorizer = authorizer;
        _options = options;
    }

    public ArmOperation Resolve(ArmRequest r)
    {
        var s = r.Segments;
        if (AuthorizationExtension(r) is { } extension)
        {
            return extension;
        }

        if (!r.Is(0, "subscriptions"))
        {
            throw NotFound(r);
        }

        if (s.Length == 1)
        {
            return Method(r, "GET") ?? ListSubscriptions(r);
        }

        if (!Guid.TryParse(s[1], out var sub))
        {
            throw new ArmException(400, "InvalidSubscriptionId", $"The provided subscription identifier '{s[1]}' is malformed or invalid.");
        }

        var subscription = _groups.RequireSubscription(sub);
        var subScope = ResourceId.ForSubscription(sub);
        if (s.Length == 2)
        {
            return Method(r, "GET") ?? new ArmOperation("Microsoft.Resources/subscriptions/read", subScope,
                () => new ArmResponse(200, ArmJson.Subscription(subscription)));
        }

        if (r.Is(2, "resourceGroups"))
        {
            if (s.Length == 3)
            {
                return Method(r, "GET") ?? ListGroups(r, sub);
            }

            if (s.Length == 4)
            {
                return Group(r, sub, s[3]);
            }

            var group = _groups.Require(sub, s[3]);
            if (s.Length == 5 && r.Is(4, "resources"))
            {
                return Method(r, "GET") ?? ListResources(r, sub, group.Name);
            }

            if (s.Length >= 6 && r.Is(4, "providers"))
            {
                return Provider(r, sub, group.Name, s[5], s[6..]);
            }

            throw NotFound(r);
        }

        if (s.Length == 3 && r.Is(2, "resources"))
        {
            return Method(r, "GET") ?? ListResources(r, sub, null);
        }

        if (s.Length >= 4 && r.Is(2, "providers"))
        {
            if (s.Length == 7 && r.Is(3, "Microsoft.Insights") && r.Is(4, "eventtypes") && r.Is(5, "management") && r.Is(6, "values"))
            {
                return Method(r, "GET") ?? ActivityLog(r, sub);
            }

            return Provider(r, sub, null, s[3], s[4..]);
        }

        throw NotFound(r);
    }

    // ── subscriptions and groups ───────────────────────────────────────────────────────────────

    private ArmOperation ListSubscriptions(ArmRequest r) => new(null, ResourceId.Root, () =>
    {
        var visible = _groups.ListSubscriptions()
            .Where(s => s.TenantId == r.Caller.TenantId
                && _authorizer.IsActionAllowed(r.Caller.ObjectId, "Microsoft.Resources/subscriptions/read", ResourceId.ForSubscription(s.SubscriptionId)))
            .Select(s => (JsonNode)ArmJson.Subscription(s))
            .ToList();
        return Page(r, visible);
    });

    private ArmOperation ListGroups(ArmRequest r, Guid sub) => new(null, ResourceId.ForSubscription(sub), () =>
    {
        var visible = _groups.List(sub)
            .Where(g => _authorizer.IsActionAllowed(r.Caller.ObjectId, GroupsRead, ResourceId.ForResourceGroup(sub, g.Name)))
            .Select(g => (JsonNode)ArmJson.ResourceGroup(g))
            .ToList();
        return Page(r, visible);
    });

    private ArmOperation Group(ArmRequest r, Guid sub, string name)
    {
        var scope = ResourceId.ForResourceGroup(sub, _groups.Get(sub, name)?.Name ?? name);
        return r.Method switch
        {
            "GET" => new(GroupsRead, scope, () => new ArmResponse(200, ArmJson.ResourceGroup(_groups.Require(sub, name)))),
            "HEAD" => new(GroupsRead, scope, () => _groups.Get(sub, name) is null
                ? throw new ArmException(404, "ResourceGroupNotFound", $"Resource group '{name}' could not be found.")
                : new ArmResponse(204, null)),
            "PUT" => new(GroupsWrite, scope, () =>
            {
                var body = RequireBody(r);
                var (group, created) = _groups.CreateOrUpdate(sub, name, OptionalString(body, "location"), Tags(body), OptionalString(body, "managedBy"));
                return new ArmResponse(created ? 201 : 200, ArmJson.ResourceGroup(group));
            }),
            "PATCH" => new(GroupsWrite, scope, () =>
            {
                var body = RequireBody(r);
                return new ArmResponse(200, ArmJson.ResourceGroup(_groups.Update(sub, name, Tags(body), OptionalString(body, "managedBy"))));
            }),
            // Synchronous completion (api-compat §2.4): the SDK's poller accepts 200 and stops.
            "DELETE" => new(GroupsDelete, scope, () => _groups.Delete(sub, name, r.Caller)
                ? new ArmResponse(200, null)
                : throw new ArmException(404, "ResourceGroupNotFound", $"Resource group '{name}' could not be found.")),
            _ => throw MethodNotAllowed(r),
        };
    }

    // ── generic resource list ──────────────────────────────────────────────────────────────────

    private ArmOperation ListResources(ArmRequest r, Guid sub, string? group)
    {
        var scope = group is null ? ResourceId.ForSubscription(sub) : ResourceId.ForResourceGroup(sub, group);
        var type = ParseResourceTypeFilter(r.Query.GetValueOrDefault("$filter"));
        return new(null, scope, () =>
        {
            var items = new List<JsonNode>();
            foreach (var provider in _providers.All)
            {
                var types = type is null
                    ? provider.ResourceTypes
                    : type.StartsWith(provider.ProviderNamespace + "/", StringComparison.OrdinalIgnoreCase) ? [type] : [];
                foreach (var t in types)
                {
                    foreach (var item in provider.List(sub, group, t))
                    {
                        if (item["id"]?.GetValue<string>() is { } id && ResourceId.TryParse(id, out var itemId)
                            && _authorizer.IsActionAllowed(r.Caller.ObjectId, $"{itemId.ResourceType}/read", itemId))
                        {
                            items.Add(item);
                        }
                    }
                }
            }

            return Page(r, items);
        });
    }

    private static string? ParseResourceTypeFilter(string? filter)
    {
        if (string.IsNullOrWhiteSpace(filter))
        {
            return null;
        }

        const string prefix = "resourceType eq ";
        var term = filter.Trim();
        if (term.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
        {
            var value = term[prefix.Length..].Trim();
            if (value.Length >= 2 && value[0] == '\'' && value[^1] == '\'' && value.IndexOf('\'', 1) == value.Length - 1)
            {
                return value[1..^1];
            }
        }

        throw new ArmException(400, "InvalidFilterInQueryString", $"The filter '{filter}' is not supported. Use resourceType eq '<namespace>/<type>'.");
    }

    // ── role assignments and role definitions (extension resources at any scope) ───────────────

    private ArmOperation? AuthorizationExtension(ArmRequest r)
    {
        var s = r.Segments;
        for (var i = s.Length - 3; i >= 0; i--)
        {
            if (!r.Is(i, "providers") || !r.Is(i + 1, "Microsoft.Authorization") || s.Length - i > 4)
            {
                continue;
            }

            var isAssignments = r.Is(i + 2, "roleAssignments");
            if (!isAssignments && !r.Is(i + 2, "roleDefinitions"))
            {
                continue;
            }

            var scopeText = "/" + string.Join('/', s[..i]);
            if (!ResourceId.TryParse(scopeText, out var scope))
            {
                throw new ArmException(400, "InvalidScope", $"The scope '{scopeText}' is not a valid resource id.");
            }

            if (scope.SubscriptionId is { } sub)
            {
                _groups.RequireSubscription(sub);
                if (scope.ResourceGroup is { } group)
                {
                    scope = ResourceId.Parse(scope.ToString().Replace("/resourceGroups/" + group, "/resourceGroups/" + _groups.Require(sub, group).Name,
                        StringComparison.OrdinalIgnoreCase));
                }
            }
            else if (!scope.IsRoot)
            {
                throw new ArmException(400, "InvalidScope", $"The scope '{scopeText}' is not a valid resource id.");
            }

            var name = s.Length - i == 4 ? s[i + 3] : null;
            return isAssignments ? RoleAssignments(r, scope, name) : RoleDefinitionsRoute(r, scope, name);
        }

        return null;
    }

    private ArmOperation RoleAssignments(ArmRequest r, ResourceId scope, string? nameText)
    {
        if (nameText is null)
        {
            var filter = RoleAssignmentFilter.Parse(r.Query.GetValueOrDefault("$filter"));
            return Method(r, "GET") ?? new("Microsoft.Authorization/roleAssignments/read", scope,
                () => Page(r, [.. _assignments.List(scope, filter).Select(a => (JsonNode)ArmJson.RoleAssignment(a))]));
        }

        if (!Guid.TryParse(nameText, out var name))
        {
            throw new ArmException(400, "InvalidRoleAssignmentId", $"The role assignment ID '{nameText}' is not valid. The role assignment ID must be a GUID.");
        }

        var notFound = new ArmException(404, "RoleAssignmentNotFound", $"The role assignment '{name}' is not found.");
        return r.Method switch
        {
            "GET" => new("Microsoft.Authorization/roleAssignments/read", scope,
                () => new ArmResponse(200, ArmJson.RoleAssignment(_assignments.Get(scope, name) ?? throw notFound))),
            "PUT" => new("Microsoft.Authorization/roleAssignments/write", scope, () =>
            {
                var body = RequireBody(r);
                var properties = body.TryGetProperty("properties", out var p) && p.ValueKind == JsonValueKind.Object ? p
                    : throw new ArmException(400, "InvalidRequestContent", "The request content must have 'properties'.");
                var roleDefinition = OptionalString(properties, "roleDefinitionId")
                    ?? throw new ArmException(400, "InvalidRoleDefinitionId", "The roleDefinitionId is required.");
                if (!Guid.TryParse(roleDefinition.Split('/', StringSplitOptions.RemoveEmptyEntries).LastOrDefault(), out var roleId))
                {
                    throw new ArmException(400, "InvalidRoleDefinitionId", $"The role definition ID '{roleDefinition}' is not valid.");
                }

                if (!Guid.TryParse(OptionalString(properties, "principalId"), out var principal))
                {
                    throw new ArmException(400, "InvalidPrincipalId", "A valid principal ID must be provided for role assignment.");
                }

                var result = _assignments.Create(scope, name, roleId, principal, OptionalString(properties, "principalType"),
                    OptionalString(properties, "description"), r.Caller.ObjectId);
                return new ArmResponse(result.Created ? 201 : 200, ArmJson.RoleAssignment(result.Assignment));
            }),
            "DELETE" => new("Microsoft.Authorization/roleAssignments/delete", scope,
                () => _assignments.Delete(scope, name) is { } deleted ? new ArmResponse(200, ArmJson.RoleAssignment(deleted)) : new ArmResponse(204, null)),
            _ => throw MethodNotAllowed(r),
        };
    }

    private ArmOperation RoleDefinitionsRoute(ArmRequest r, ResourceId scope, string? idText)
    {
        if (idText is not null && r.Method is "PUT" or "DELETE")
        {
            return CustomRole(r, scope, idText);
        }

        _ = Method(r, "GET");
        // The built-in catalog is public: at the tenant root (where nobody holds a role) any
        // authenticated caller may read it; below it the usual read permission applies.
        var action = scope.IsRoot ? null : "Microsoft.Authorization/roleDefinitions/read";
        if (idText is null)
        {
            var roles = _roles.All.AsEnumerable();
            var filter = r.Query.GetValueOrDefault("$filter");
            if (!string.IsNullOrWhiteSpace(filter))
            {
                const string prefix = "roleName eq ";
                if (filter.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
                {
                    var wanted = filter[prefix.Length..].Trim().Trim('\'');
                    roles = roles.Where(role => role.RoleName.Equals(wanted, StringComparison.OrdinalIgnoreCase));
                }
                else if (filter.Trim().Equals("type eq 'BuiltInRole'", StringComparison.OrdinalIgnoreCase))
                {
                    roles = roles.Where(role => role.Type == "BuiltInRole");
                }
                else if (!filter.Trim().Equals("atScopeAndBelow()", StringComparison.OrdinalIgnoreCase))
                {
                    throw new ArmException(400, "InvalidFilterInQueryString", $"The filter '{filter}' is not supported.");
                }
            }

            return new(action, scope, () => Page(r, [.. roles.Select(role => (JsonNode)ArmJson.RoleDefinition(scope, role))]));
        }

        return new(action, scope, () => Guid.TryParse(idText, out var id) && _roles.Find(id) is { } role
            ? new ArmResponse(200, ArmJson.RoleDefinition(scope, role))
            : throw new ArmException(404, "RoleDefinitionDoesNotExist", $"The specified role definition with ID '{idText}' does not exist."));
    }

    // Custom roles: PUT creates or replaces, DELETE removes (refused while assigned). Not for built-ins.
    private ArmOperation CustomRole(ArmRequest r, ResourceId scope, string idText)
    {
        if (!Guid.TryParse(idText, out var id))
        {
            throw new ArmException(400, "InvalidRoleDefinitionId", $"The role definition ID '{idText}' is not valid. It must be a GUID.");
        }

        if (r.Method == "DELETE")
        {
            return new("Microsoft.Authorization/roleDefinitions/delete", scope, () => _roles.Delete(id) is { } deleted
                ? new ArmResponse(200, ArmJson.RoleDefinition(scope, deleted))
                : new ArmResponse(204, null));
        }

        return new("Microsoft.Authorization/roleDefinitions/write", scope, () =>
        {
            var body = RequireBody(r);
            var properties = body.TryGetProperty("properties", out var p) && p.ValueKind == JsonValueKind.Object ? p
                : throw new ArmException(400, "InvalidRequestContent", "The request content must have 'properties'.");
            var permissions = properties.TryGetProperty("permissions", out var list) && list.ValueKind == JsonValueKind.Array
                ? list.EnumerateArray().Select(RoleDefinitions.ReadBlock).ToList()
                : [];
            var assignable = properties.TryGetProperty("assignableScopes", out var scopes) && scopes.ValueKind == JsonValueKind.Array
                ? scopes.EnumerateArray().Select(x => x.GetString() ?? "").ToList()
                : [scope.ToString()];
            var canonical = assignable.Select(a => ResourceId.TryParse(a, out var parsed) ? parsed.ToString()
                : throw new ArmException(400, "InvalidAssignableScopes", $"The assignable scope '{a}' is not a valid resource id.")).ToList();
            var role = new RoleDefinition(id, OptionalString(properties, "roleName") ?? "", OptionalString(properties, "description") ?? "",
                "CustomRole", permissions, canonical);
            var created = _roles.Upsert(role);
            return new ArmResponse(created ? 201 : 200, ArmJson.RoleDefinition(scope, role));
        });
    }

    // ── activity log ───────────────────────────────────────────────────────────────────────────

    private ArmOperation ActivityLog(ArmRequest r, Guid sub)
    {
        var query = ParseActivityFilter(r.Query.GetValueOrDefault("$filter"), sub);
        return new("Microsoft.Insights/eventtypes/values/read", ResourceId.ForSubscription(sub),
            () => Page(r, [.. _activity.Query(query).Select(e => (JsonNode)ArmJson.Activity(e))]));
    }

    /// <summary>
    /// Azure Monitor's filter: "eventTimestamp ge '…' and eventTimestamp le '…'" plus optional
    /// "resourceId eq '…'" / "resourceUri eq '…'" (that resource and everything below it),
    /// "resourceGroupName eq '…'", "caller eq '{oid}'", "correlationId eq '…'" is not supported.
    /// </summary>
    internal static ActivityQuery ParseActivityFilter(string? filter, Guid sub)
    {
        var query = new ActivityQuery(SubscriptionId: sub);
        if (string.IsNullOrWhiteSpace(filter))
        {
            return query;
        }

        foreach (var term in filter.Split(" and ", StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var parts = term.Split(' ', 3, StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length != 3)
            {
                throw BadFilter(filter);
            }

            var value = parts[2].Trim().Trim('\'');
            switch (parts[0].ToUpperInvariant(), parts[1].ToUpperInvariant())
            {
                case ("EVENTTIMESTAMP", "GE"):
                    query = query with { From = ParseTime(value, filter) };
                    break;
                case ("EVENTTIMESTAMP", "LE"):
                    query = query with { To = ParseTime(value, filter) };
                    break;
                case ("RESOURCEID" or "RESOURCEURI", "EQ"):
                    query = query with { ResourceIdPrefix = ResourceId.TryParse(value, out var id) ? id.ToString() : value };
                    break;
                case ("RESOURCEGROUPNAME", "EQ"):
                    query = query with { ResourceIdPrefix = ResourceId.ForResourceGroup(sub, value).ToString() };
                    break;
                case ("CALLER", "EQ") when Guid.TryParse(value, out var caller):
                    query = query with { CallerObjectId = caller };
                    break;
                default:
                    throw BadFilter(filter);
            }
        }

        return query;
    }

    private static DateTimeOffset ParseTime(string value, string filter) =>
        DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var time)
            ? time
            : throw BadFilter(filter);

    private static ArmException BadFilter(string filter) =>
        new(400, "InvalidFilterInQueryString", $"The $filter '{filter}' is not supported by the activity log.");

    // ── providers ──────────────────────────────────────────────────────────────────────────────

    private ArmOperation Provider(ArmRequest r, Guid sub, string? group, string providerNamespace, string[] path)
    {
        var provider = _providers.Find(providerNamespace)
            ?? throw new ArmException(404, "InvalidResourceNamespace", $"The resource namespace '{providerNamespace}' is invalid.");
        var root = group is null ? ResourceId.ForSubscription(sub) : ResourceId.ForResourceGroup(sub, group);
        // The scope is the resource addressed, or the collection's parent for a collection or an action.
        var pairs = path.Length - (path.Length % 2);
        var scope = pairs == 0 ? root : ResourceId.TryParse($"{root}/providers/{provider.ProviderNamespace}/{string.Join('/', path[..pairs])}", out var id)
            ? id : throw NotFound(r);
        var request = new ProviderRequest(
            r.Method, sub, group, path, scope.ToString(), r.Query, r.Body, r.Caller, r.ApiVersion, r.BaseUri);
        var action = provider.RequiredAction(request);
        return new(action, scope, () =>
        {
            var result = provider.Handle(request);
            return new ArmResponse(result.StatusCode, result.Body, result.Headers);
        }, ExecuteAsync: async cancellation =>
        {
            var result = await provider.HandleAsync(request, cancellation);
            return new ArmResponse(result.StatusCode, result.Body, result.Headers);
        });
    }

    // ── helpers ────────────────────────────────────────────────────────────────────────────────

    // `$top` (as arm-resources sends it) lowers the page size; the nextLink keeps it, so every page has that size.
    private ArmResponse Page(ArmRequest r, IReadOnlyList<JsonNode> items)
    {
        var pageSize = _options.PageSize;
        if (r.Query.TryGetValue("$top", out var topText))
        {
            if (!int.TryParse(topText, NumberStyles.None, CultureInfo.InvariantCulture, out var top) || top < 1)
            {
                throw new ArmException(400, "InvalidTopParameter", $"The $top value '{topText}' must be a positive integer.");
            }

            pageSize = Math.Min(pageSize, top);
        }

        return new(200, ArmPaging.Page(items, r.RequestUri, r.Query, pageSize));
    }

    /// <summary>Null when the request uses <paramref name="allowed"/>, else throws 405.</summary>
    private static ArmOperation? Method(ArmRequest r, string allowed) =>
        r.Method == allowed ? null : throw MethodNotAllowed(r);

    private static ArmException MethodNotAllowed(ArmRequest r) =>
        new(405, "MethodNotAllowed", $"The method {r.Method} is not allowed on this resource.");

    private static ArmException NotFound(ArmRequest r) =>
        new(404, "NotFound", $"No Resource Manager endpoint serves {r.Method} /{string.Join('/', r.Segments)}.");

    private static JsonElement RequireBody(ArmRequest r) =>
        r.Body is { ValueKind: JsonValueKind.Object } body
            ? body
            : throw new ArmException(400, "InvalidRequestContent", "The request content was invalid and could not be deserialized.");

    private static string? OptionalString(JsonElement element, string name)
    {
        foreach (var property in element.EnumerateObject())
        {
            if (property.NameEquals(name) || property.Name.Equals(name, StringComparison.OrdinalIgnoreCase))
            {
                return property.Value.ValueKind == JsonValueKind.String ? property.Value.GetString() : null;
            }
        }

        return null;
    }

    private static Dictionary<string, string>? Tags(JsonElement body)
    {
        if (!body.TryGetProperty("tags", out var tags) || tags.ValueKind != JsonValueKind.Object)
        {
            return null;
        }

        return tags.EnumerateObject().ToDictionary(t => t.Name, t => t.Value.ValueKind == JsonValueKind.String ? t.Value.GetString() ?? "" : t.Value.GetRawText(),
            StringComparer.Ordinal);
    }
}
