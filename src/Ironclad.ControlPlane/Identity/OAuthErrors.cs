// The token endpoint's one error table: each refusal is an OAuth2 error (RFC 6749 §5.2) with the
// AADSTS code Entra ID uses for it, in Entra's JSON shape. invalid_client is 401, everything else
// 400. Descriptions never echo a secret; correlation_id echoes the client's client-request-id.
using System.Globalization;
using Microsoft.AspNetCore.Http;

namespace Ironclad.ControlPlane.Identity;

internal static class OAuthErrors
{
    public static IResult TenantNotFound(HttpContext context, string tenant) =>
        Create(context, StatusCodes.Status400BadRequest, "invalid_request", 90002,
            $"Tenant '{Sanitize(tenant)}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.");

    public static IResult MissingParameter(HttpContext context, string name) =>
        Create(context, StatusCodes.Status400BadRequest, "invalid_request", 900144,
            $"The request body must contain the following parameter: '{name}'.");

    public static IResult NotAForm(HttpContext context) =>
        Create(context, StatusCodes.Status400BadRequest, "invalid_request", 900144,
            "The request body must be application/x-www-form-urlencoded and contain the following parameter: 'grant_type'.");

    public static IResult UnsupportedGrantType(HttpContext context) =>
        Create(context, StatusCodes.Status400BadRequest, "unsupported_grant_type", 70003,
            "The app requested an unsupported grant type. Only 'client_credentials' is supported.");

    public static IResult UnknownClient(HttpContext context, string clientId, string tenant) =>
        Create(context, StatusCodes.Status400BadRequest, "unauthorized_client", 700016,
            $"Application with identifier '{Sanitize(clientId)}' was not found in the directory '{Sanitize(tenant)}'.");

    public static IResult ManagedIdentityClient(HttpContext context, string clientId) =>
        Create(context, StatusCodes.Status400BadRequest, "unauthorized_client", 700016,
            $"Application with identifier '{Sanitize(clientId)}' is a managed identity: its tokens are issued only to the platform, never through client credentials.");

    public static IResult MissingSecret(HttpContext context) =>
        Create(context, StatusCodes.Status401Unauthorized, "invalid_client", 7000216,
            "'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type.");

    public static IResult InvalidSecret(HttpContext context, string clientId) =>
        Create(context, StatusCodes.Status401Unauthorized, "invalid_client", 7000215,
            $"Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{Sanitize(clientId)}'.");

    public static IResult ExpiredSecret(HttpContext context, string clientId) =>
        Create(context, StatusCodes.Status401Unauthorized, "invalid_client", 7000222,
            $"The provided client secret keys for app '{Sanitize(clientId)}' are expired.");

    public static IResult InvalidScope(HttpContext context, string parameter) =>
        Create(context, StatusCodes.Status400BadRequest, "invalid_scope", 1002012,
            $"The provided value for {parameter} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).");

    private static IResult Create(HttpContext context, int status, string error, int code, string description)
    {
        var now = context.RequestServices.GetService(typeof(TimeProvider)) is TimeProvider time ? time.GetUtcNow() : DateTimeOffset.UtcNow;
        var traceId = Guid.NewGuid().ToString("D");
        var correlationId = context.Request.Query["client-request-id"].FirstOrDefault() is { } id && Guid.TryParse(id, out var parsed)
            ? parsed.ToString("D")
            : Guid.NewGuid().ToString("D");
        var timestamp = now.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture);
        var body = new OAuthErrorResponse(error,
            string.Create(CultureInfo.InvariantCulture, $"AADSTS{code}: {description} Trace ID: {traceId} Correlation ID: {correlationId} Timestamp: {timestamp}"),
            [code], timestamp, traceId, correlationId);
        context.Response.Headers.CacheControl = "no-store, no-cache";
        return Results.Json(body, IdentityJsonContext.Default.OAuthErrorResponse, statusCode: status);
    }

    // Echo identifiers only as far as they are harmless: short, printable, no quotes.
    private static string Sanitize(string value)
    {
        var clean = new string([.. value.Where(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '.' or '_').Take(64)]);
        return clean.Length == 0 ? "(empty)" : clean;
    }
}
