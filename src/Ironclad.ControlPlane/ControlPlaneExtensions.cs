// The control plane's surface for the composition root: services, the middleware that must wrap
// every request, and the endpoint groups. Host calls these three and nothing else, so adding an
// endpoint group (Arm/, KeyVault/, Identity/) never touches Host.
using Ironclad.ControlPlane.Compute;
using Ironclad.ControlPlane.Errors;
using Ironclad.ControlPlane.Health;
using Ironclad.ControlPlane.Identity;
using Ironclad.ControlPlane.KeyVault;
using Ironclad.ControlPlane.ResourceManager;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Ironclad.ControlPlane;

public static class ControlPlaneExtensions
{
    public static IServiceCollection AddControlPlane(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddRoutingCore();
        services.Configure<JsonOptions>(options =>
        {
            options.SerializerOptions.DefaultIgnoreCondition = ControlPlaneJsonContext.Default.Options.DefaultIgnoreCondition;
            options.SerializerOptions.TypeInfoResolverChain.Insert(0, ControlPlaneJsonContext.Default);
        });
        return services;
    }

    /// <summary>
    /// Middleware that must run before routing: requests on a vault's port branch off to the keys data
    /// plane (its own envelope and authentication), SAS data requests to the disk data path; the rest get the error envelope, then bearer authentication.
    /// </summary>
    public static IApplicationBuilder UseControlPlane(this IApplicationBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.UseKeyVaultDataPlane();
        app.UseDiskDataAccess();
        app.UseAzureErrorEnvelope();
        app.UseBearerAuthentication();
        app.UseRouting();
        return app;
    }

    /// <summary>Every endpoint group of the control-plane port (the keys data plane is branched off in UseControlPlane).</summary>
    public static IEndpointRouteBuilder MapControlPlane(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        endpoints.MapHealth();
        endpoints.MapIdentity();
        endpoints.MapKeyVaultAudit();
        endpoints.MapResourceManager();
        return endpoints;
    }
}
