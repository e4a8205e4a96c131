// `GET /healthz`: answers 200 {"status":"ok"} once the HTTPS listener serves requests. Tools and
// tests poll it after reading endpoints.json; it reveals nothing about the server's state or data.
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace Ironclad.ControlPlane.Health;

/// <summary>The body of <c>GET /healthz</c>.</summary>
public sealed record HealthStatus(string Status);

public static class HealthEndpoints
{
    public const string Path = "/healthz";

    public static IEndpointRouteBuilder MapHealth(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        endpoints.MapGet(Path, GetHealth).WithName("GetHealth");
        return endpoints;
    }

    private static Ok<HealthStatus> GetHealth() => TypedResults.Ok(new HealthStatus("ok"));
}
