// The one way an HTTP endpoint reports an error: status code + `x-ms-error-code` header + the
// envelope body, all derived from one code. Endpoints return it as a typed result
// (`Results<Ok<T>, AzureError>`); middleware uses it for unmatched routes and unhandled exceptions.
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.WebUtilities;

namespace Ironclad.ControlPlane.Errors;

public sealed class AzureError : IResult, IStatusCodeHttpResult
{
    /// <summary>The response header Azure SDKs read the error code from.</summary>
    public const string ErrorCodeHeader = "x-ms-error-code";

    public AzureError(int statusCode, string code, string message, string? target = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(statusCode, 400);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(statusCode, 599);
        ArgumentException.ThrowIfNullOrWhiteSpace(code);
        ArgumentException.ThrowIfNullOrWhiteSpace(message);
        StatusCode = statusCode;
        Code = code;
        Message = message;
        Target = target;
    }

    public int StatusCode { get; }

    public string Code { get; }

    public string Message { get; }

    public string? Target { get; }

    int? IStatusCodeHttpResult.StatusCode => StatusCode;

    /// <summary>404 for a request no endpoint serves. The query string is never echoed (it may hold a SAS).</summary>
    public static AzureError RouteNotFound(string method, string path) =>
        new(StatusCodes.Status404NotFound, ErrorCodes.NotFound,
            $"No endpoint serves {method} {path}.");

    /// <summary>500 with a fixed message: the cause is logged, never sent.</summary>
    public static AzureError InternalServerError() =>
        new(StatusCodes.Status500InternalServerError, ErrorCodes.InternalServerError,
            "The server encountered an internal error. Please retry the request.");

    /// <summary>An envelope for a bare status code the pipeline produced without a body.</summary>
    public static AzureError ForStatusCode(int statusCode, string method, string path) => statusCode switch
    {
        StatusCodes.Status404NotFound => RouteNotFound(method, path),
        StatusCodes.Status405MethodNotAllowed => new(statusCode, ErrorCodes.MethodNotAllowed,
            $"The method {method} is not allowed on {path}."),
        StatusCodes.Status500InternalServerError => InternalServerError(),
        >= 500 => new(statusCode, CodeFromReasonPhrase(statusCode), "The server cannot serve the request now. Please retry it later."),
        _ => new(statusCode, CodeFromReasonPhrase(statusCode), $"The request {method} {path} could not be served."),
    };

    // 415 -> "UnsupportedMediaType": Azure's codes for plain HTTP failures are the reason phrase in PascalCase.
    private static string CodeFromReasonPhrase(int statusCode)
    {
        var phrase = ReasonPhrases.GetReasonPhrase(statusCode);
        return phrase.Length == 0 ? $"Http{statusCode}" : phrase.Replace(" ", "", StringComparison.Ordinal)
            .Replace("-", "", StringComparison.Ordinal);
    }

    public async Task ExecuteAsync(HttpContext httpContext)
    {
        ArgumentNullException.ThrowIfNull(httpContext);
        var response = httpContext.Response;
        response.StatusCode = StatusCode;
        response.Headers[ErrorCodeHeader] = Code;
        response.ContentType = "application/json; charset=utf-8";
        var body = new ErrorResponse(new ErrorDetail(Code, Message, Target));
        await JsonSerializer.SerializeAsync(response.Body, body, ControlPlaneJsonContext.Default.ErrorResponse,
            httpContext.RequestAborted);
    }
}
