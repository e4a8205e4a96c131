// Resource Manager's HTTP edge: ARM routing, api-version handling, authorization, the providers.
// Owned by the Resource Manager work (issue 4).
using Microsoft.AspNetCore.Routing;

namespace Ironclad.ControlPlane.ResourceManager;

public static class ResourceManagerEndpoints
{
    public static IEndpointRouteBuilder MapResourceManager(this IEndpointRouteBuilder endpoints) => endpoints;
}
