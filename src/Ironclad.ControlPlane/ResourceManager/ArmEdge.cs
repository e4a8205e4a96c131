// The request pipeline every Resource Manager call goes through, in this order: path normalization
// (case-insensitive, `//` collapsed), authentication (401), audience and tenant checks, api-version
// (400), routing to a built-in handler or an IResourceProvider, RBAC authorization of the action at
// its scope (403), execution, and the activity-log record of every write with its outcome.
// Invariant: nothing executes before authentication and authorization have passed, and every
// failure leaves as the ARM envelope with `x-ms-error-code`.
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Ironclad.ControlPlane.Authentication;
using Ironclad.ControlPlane.Errors;
using Ironclad.Identity;
using Ironclad.ResourceManager;
using Ironclad.ResourceManager.ActivityLog;
using Ironclad.ResourceManager.Groups;
using Ironclad.ResourceManager.Ids;
using Ironclad.ResourceManager.Providers;
using Ironclad.ResourceManager.Rbac;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Ironclad.ControlPlane.ResourceManager;

/// <summary>
/// What a route resolved to: the RBAC action (null = the handler filters per item), where it is
/// checked, and the work — <paramref name="Execute"/>, or <paramref name="ExecuteAsync"/> when the
/// work does I/O (a provider that calls a vault), which the edge prefers when set.
/// </summary>
internal sealed record ArmOperation(
    string? Action, ResourceId Scope, Func<ArmResponse> Execute, string? OperationName = null,
    Func<CancellationToken, Task<ArmResponse>>? ExecuteAsync = null);

/// <summary>A successful answer: status, JSON body (null = none) and extra headers.</summary>
internal sealed record ArmResponse(int StatusCode, JsonNode? Body, IReadOnlyDictionary<string, string>? Headers = null);

/// <summary>The parsed request handed to the route handlers.</summary>
internal sealed class ArmRequest
{
    public required string Method { get; init; }

    public required string[] Segments { get; init; }

    public required Dictionary<string, string> Query { get; init; }

    public required CallerIdentity Caller { get; init; }

    public required Uri BaseUri { get; init; }

    /// <summary>The absolute request URL without its query, for nextLink.</summary>
    public required Uri RequestUri { get; init; }

    public required string ApiVersion { get; init; }

    public JsonElement? Body { get; init; }

    public bool Is(int index, string literal) =>
        index < Segments.Length && Segments[index].Equals(literal, StringComparison.OrdinalIgnoreCase);
}

internal sealed partial class ArmEdge
{
    // `&` in nextLink and `'` in messages stay readable; the output is still valid JSON.
    private static readonly JsonSerializerOptions WireOptions = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private static readonly HashSet<string> WriteMethods = new(StringComparer.Ordinal) { "PUT", "PATCH", "DELETE", "POST" };

    private readonly ArmRoutes _routes;
    private readonly Authorizer _authorizer;
    private readonly ActivityLogService _activity;
    private readonly ResourceGroupService _groups;
    private readonly ResourceManagerOptions _options;
    private readonly ILogger _logger;

    public ArmEdge(ArmRoutes routes, Authorizer authorizer, ActivityLogService activity, ResourceGroupService groups,
        ResourceManagerOptions options, ILoggerFactory loggerFactory)
    {
        _routes = routes;
        _authorizer = authorizer;
        _activity = activity;
        _groups = groups;
        _options = options;
        _logger = loggerFactory.CreateLogger("Ironclad.ResourceManager");
    }

    /// <summary>True for paths this edge serves: /subscriptions..., /providers... (after collapsing leading slashes).</summary>
    public static bool Serves(PathString path)
    {
        var segments = Split(path);
        return segments.Length > 0 && (segments[0].Equals("subscriptions", StringComparison.OrdinalIgnoreCase)
            || segments[0].Equals("providers", StringComparison.OrdinalIgnoreCase));
    }

    public async Task HandleAsync(HttpContext http)
    {
        var request = http.Request;
        var requestId = Guid.NewGuid().ToString();
        var clientRequestId = request.Headers["x-ms-client-request-id"].ToString();
        http.Response.Headers["x-ms-request-id"] = requestId;
        http.Response.Headers["x-ms-correlation-request-id"] = requestId;
        if (clientRequestId.Length > 0)
        {
            http.Response.Headers["x-ms-client-request-id"] = clientRequestId;
        }

        var segments = Split(request.Path);
        var method = request.Method.ToUpperInvariant();
        var isWrite = WriteMethods.Contains(method);
        var baseUri = new Uri($"{request.Scheme}://{request.Host}/");
        var requestUri = new Uri(baseUri, "/" + string.Join('/', segments.Select(Uri.EscapeDataString)));
        CallerIdentity? caller = null;
        ArmOperation? operation = null;
        var status = 500;
        string? errorCode = null;
        try
        {
            caller = Authenticate(http, segments, baseUri);
            var apiVersion = request.Query["api-version"].ToString();
            if (apiVersion.Length == 0)
            {
                throw new ArmException(400, "MissingApiVersionParameter", "The api-version query parameter (?api-version=) is required for all requests.");
            }

            if (!ApiVersionPattern().IsMatch(apiVersion))
            {
                throw new ArmException(400, "InvalidApiVersionParameter",
                    $"The api-version '{apiVersion}' is invalid. The supported versions are of the form 'yyyy-MM-dd' or 'yyyy-MM-dd-preview'.");
            }

            var body = method is "PUT" or "PATCH" or "POST" ? await ReadBodyAsync(request, http.RequestAborted) : null;
            var arm = new ArmRequest
            {
                Method = method,
                Segments = segments,
                Query = request.Query.ToDictionary(q => q.Key, q => q.Value.ToString(), StringComparer.OrdinalIgnoreCase),
                Caller = caller,
                BaseUri = baseUri,
                RequestUri = requestUri,
                ApiVersion = apiVersion,
                Body = body,
            };
            operation = _routes.Resolve(arm);
            CheckTenant(caller, operation.Scope);
            if (operation.Action is { } action && !_authorizer.IsActionAllowed(caller.ObjectId, action, operation.Scope))
            {
                throw new ArmException(403, "AuthorizationFailed",
                    $"The client '{caller.ObjectId}' with object id '{caller.ObjectId}' does not have authorization to perform action '{action}' over scope '{operation.Scope}' or the scope is invalid. If access was recently granted, please refresh your credentials.");
            }

            var result = operation.ExecuteAsync is { } executeAsync
                ? await executeAsync(http.RequestAborted)
                : operation.Execute();
            status = result.StatusCode;
            await WriteAsync(http, result);
        }
        catch (ArmException e)
        {
            status = e.StatusCode;
            errorCode = e.Code;
            if (status == 401)
            {
                http.Response.Headers.WWWAuthenticate = WwwAuthenticate(baseUri, segments, e.Message);
            }

            await new AzureError(e.StatusCode, e.Code, e.Message).ExecuteAsync(http);
        }
        catch (Exception)
        {
            status = 500;
            errorCode = ErrorCodes.InternalServerError;
            throw;
        }
        finally
        {
            if (isWrite)
            {
                RecordActivity(caller, segments, method, operation, status, errorCode, clientRequestId.Length > 0 ? clientRequestId : requestId);
            }
        }
    }

    private CallerIdentity Authenticate(HttpContext http, string[] segments, Uri baseUri)
    {
        if (http.GetCaller() is { } caller)
        {
            var audience = caller.Audience.TrimEnd('/');
            var self = baseUri.GetLeftPart(UriPartial.Authority);
            if (!audience.Equals(self, StringComparison.OrdinalIgnoreCase)
                && !_options.Audiences.Any(a => a.TrimEnd('/').Equals(audience, StringComparison.OrdinalIgnoreCase)))
            {
                throw new ArmException(401, "InvalidAuthenticationToken", "The access token is invalid: its audience is not accepted by Resource Manager.");
            }

            return caller;
        }

        if (http.GetTokenFailure() is { } failure)
        {
            throw new ArmException(401, failure.Code, failure.Message);
        }

        _ = segments;
        throw new ArmException(401, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.");
    }

    // A token from one tenant never acts on another tenant's subscription (ARM: InvalidAuthenticationTokenTenant).
    private void CheckTenant(CallerIdentity caller, ResourceId scope)
    {
        if (scope.SubscriptionId is { } sub && _groups.FindSubscription(sub) is { } subscription && subscription.TenantId != caller.TenantId)
        {
            throw new ArmException(401, "InvalidAuthenticationTokenTenant",
                $"The access token is from the wrong issuer. It must match the tenant '{subscription.TenantId}' associated with this subscription.");
        }
    }

    private string WwwAuthenticate(Uri baseUri, string[] segments, string description)
    {
        var tenant = "organizations";
        if (segments.Length >= 2 && segments[0].Equals("subscriptions", StringComparison.OrdinalIgnoreCase)
            && Guid.TryParse(segments[1], out var sub) && _groups.FindSubscription(sub) is { } subscription)
        {
            tenant = subscription.TenantId.ToString();
        }

        var safe = description.Replace("\"", "'", StringComparison.Ordinal);
        return $"Bearer authorization_uri=\"{new Uri(baseUri, tenant + "/oauth2/authorize")}\", error=\"invalid_token\", error_description=\"{safe}\"";
    }

    private void RecordActivity(CallerIdentity? caller, string[] segments, string method, ArmOperation? operation, int status, string? errorCode, string correlationId)
    {
        try
        {
            var path = "/" + string.Join('/', segments);
            var resourceId = ResourceId.TryParse(path, out var parsed) ? parsed.ToString() : operation?.Scope.ToString() ?? path;
            var operationName = operation?.OperationName ?? operation?.Action ?? DescribeOperation(parsed, method);
            Guid? subscription = segments.Length >= 2 && Guid.TryParse(segments[1], out var sub) ? sub : null;
            _activity.Record(caller, subscription, operationName, resourceId, method, status, correlationId, errorCode);
        }
        catch (Exception e) when (e is System.Data.Common.DbException or InvalidOperationException)
        {
            LogActivityFailure(_logger, e);
        }
    }

    private static string DescribeOperation(ResourceId? id, string method)
    {
        var verb = method switch { "DELETE" => "delete", "POST" => "action", _ => "write" };
        var type = id is null ? "Microsoft.Resources" : id.IsSubscription ? "Microsoft.Resources/subscriptions"
            : id.IsResourceGroup ? "Microsoft.Resources/subscriptions/resourceGroups" : id.ResourceType;
        return $"{type}/{verb}";
    }

    private static async Task<JsonElement?> ReadBodyAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        using var reader = new StreamReader(request.Body);
        var text = await reader.ReadToEndAsync(cancellationToken);
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }

        try
        {
            using var document = JsonDocument.Parse(text);
            return document.RootElement.Clone();
        }
        catch (JsonException)
        {
            throw new ArmException(400, "InvalidRequestContent", "The request content was invalid and could not be deserialized.");
        }
    }

    private static async Task WriteAsync(HttpContext http, ArmResponse result)
    {
        http.Response.StatusCode = result.StatusCode;
        if (result.Headers is not null)
        {
            foreach (var (name, value) in result.Headers)
            {
                http.Response.Headers[name] = value;
            }
        }

        if (result.Body is not null && !HttpMethods.IsHead(http.Request.Method))
        {
            http.Response.ContentType = "application/json; charset=utf-8";
            await http.Response.WriteAsync(result.Body.ToJsonString(WireOptions), http.RequestAborted);
        }
        else if (result.StatusCode == 200 && result.Body is null)
        {
            http.Response.ContentLength = 0;
        }
    }

    internal static string[] Split(PathString path) =>
        (path.Value ?? "/").Split('/', StringSplitOptions.RemoveEmptyEntries);

    [GeneratedRegex(@"^\d{4}-\d{2}-\d{2}(-preview)?$", RegexOptions.CultureInvariant)]
    private static partial Regex ApiVersionPattern();

    [LoggerMessage(Level = LogLevel.Error, Message = "Could not record an activity-log event")]
    private static partial void LogActivityFailure(ILogger logger, Exception exception);

    internal static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
