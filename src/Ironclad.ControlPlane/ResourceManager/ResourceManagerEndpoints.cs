// Resource Manager's HTTP edge: maps /subscriptions... and /providers... (any casing) to ArmEdge,
// which does authentication, api-version, routing, authorization and the activity log. arm-authorization
// sends `//subscriptions/...`; routing cannot match an empty first segment, so a small middleware
// (placed after routing, before endpoints) hands such requests to the same edge.
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Ironclad.ControlPlane.ResourceManager;

public static class ResourceManagerEndpoints
{
    public static IEndpointRouteBuilder MapResourceManager(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        var services = endpoints.ServiceProvider;
        var edge = new Lazy<ArmEdge>(() => ActivatorUtilities.CreateInstance<ArmEdge>(services,
            ActivatorUtilities.CreateInstance<ArmRoutes>(services)));
        RequestDelegate handle = context => edge.Value.HandleAsync(context);
        endpoints.Map("/subscriptions", handle);
        endpoints.Map("/subscriptions/{**rest}", handle);
        endpoints.Map("/providers/{**rest}", handle);
        if (endpoints is IApplicationBuilder app)
        {
            app.Use(async (context, next) =>
            {
                if (context.GetEndpoint() is null && (context.Request.Path.Value ?? "").StartsWith("//", StringComparison.Ordinal)
                    && ArmEdge.Serves(context.Request.Path))
                {
                    await edge.Value.HandleAsync(context);
                    return;
                }

                await next(context);
            });
        }

        return endpoints;
    }
}
